r"""The exponential-family abstraction that every BLR derivation starts from.

The Bayesian learning rule searches for a posterior approximation q within an
exponential family (Khan & Rue 2023, Sec. 1.2),

.. math::

    q(\theta) = h(\theta)\exp\bigl(\lambda^\top T(\theta) - A(\lambda)\bigr),

and moves its natural parameters λ along the gradient with respect to the
expectation parameters μ = E_q[T(θ)] = ∇A(λ).  A family is therefore fully
described by T(θ), log h(θ) and A(λ); everything else is derived here, once,
generically, and cached:

- symbolic (SymPy): :attr:`ExponentialFamily.mean_map` (μ = ∇A),
  :attr:`~ExponentialFamily.fisher` (F = ∇²A), :attr:`~ExponentialFamily.entropy`,
  :meth:`~ExponentialFamily.kl`, :attr:`~ExponentialFamily.log_density`;
- numeric (NumPy, lambdified at first use, never at import, broadcasting over
  leading batch axes; a natural-parameter array has shape ``(..., K)``):

  ===================================  ==========================================
  ``to_natural(**standard)``           standard parameters → λ, ``(..., K)``
  ``to_standard(lam)``                 λ → ``dict`` name → array ``(..., *shape)``
  ``to_expectation(lam)``              λ → μ = ∇A(λ), ``(..., K)``
  ``from_expectation(mu)``             μ → λ (closed form, else Newton on ∇A(λ) = μ)
  ``log_partition_value(lam)``         A(λ), ``(...)``
  ``fisher_information(lam)``          F(λ) = ∇²A(λ), ``(..., K, K)``
  ``entropy_value(lam)``               H(q), ``(...)``
  ``kl_value(lam_q, lam_p)``           KL(q ‖ p), ``(...)``
  ``log_density_value(theta, lam)``    log q(θ), θ of shape ``(..., len(theta))``
  ===================================  ==========================================

Every numeric input is validated and copied (a caller's array is never
modified); an invalid one raises ``ValueError`` naming the parameter and the
constraint it breaks.

A family may supply closed forms (``closed_forms`` keys ``"mean_map"``, ``"fisher"``,
``"entropy"``, ``"expected_log_base_measure"``, ``"expectation_standard"``); the
contract test in ``tests/families`` proves each equals the generic derivation.

Entropy
-------
H(q) = A(λ) − λᵀμ − E_q[log h(θ)].  With a constant base measure the last term
is that constant.  Otherwise the family must give E_q[log h] in closed form
(``closed_forms["expected_log_base_measure"]``); if it cannot (Poisson, inverse
Gaussian), :attr:`~ExponentialFamily.entropy` is ``None`` and
:meth:`~ExponentialFamily.entropy_value` computes E_q[log h] by quadrature or by
a sum over the support (scalar θ only).

Examples
--------
>>> from blrkit.families import Beta
>>> q = Beta()
>>> q.natural
(lambda_1, lambda_2)
>>> q.to_natural(alpha=2.0, beta=3.0)
array([1., 2.])
>>> q.to_expectation(q.to_natural(alpha=1.0, beta=1.0))   # (ψ(1) − ψ(2), ψ(1) − ψ(2))
array([-1., -1.])
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Mapping

import numpy as np
import sympy

from blrkit._validation import as_float_array, check_finite_result, check_positive, check_probability, check_spd
from blrkit.paper import cite

__all__ = [
    "CONSTRAINTS",
    "SUPPORTS",
    "Draw",
    "ExponentialFamily",
    "Parameter",
    "Trait",
    "natural_symbols",
    "expectation_symbols",
]

#: Constraints a standard parameter may carry, with the wording used in errors.
CONSTRAINTS: dict[str, str] = {
    "real": "finite real numbers",
    "positive": "> 0",
    "positive-vector": "> 0 in every entry",
    "probability": "in the open interval (0, 1)",
    "simplex": "on the probability simplex (positive entries summing to 1)",
    "spd": "symmetric positive definite",
}

#: Kinds of support of a block of θ components (used by quadrature and validation).
SUPPORTS: dict[str, str] = {
    "real": "the real line",
    "positive": "(0, inf)",
    "unit-interval": "(0, 1)",
    "circle": "[-pi, pi]",
    "binary": "{0, 1}",
    "count": "{0, 1, 2, ...}",
    "one-hot": "one-hot indicators (entries in {0, 1}, at most one 1)",
    "simplex": "the open probability simplex",
}

_SIMPLEX_ATOL = 1e-10  # a simplex vector may miss a sum of 1 by rounding only
_NEWTON_TOL = 1e-12  # ‖∇A(λ) − μ‖∞ ≤ 1e-12 · max(1, ‖μ‖∞) ends the inverse map
_MODULES = ["scipy", "numpy"]


def natural_symbols(k: int) -> tuple[sympy.Symbol, ...]:
    """λ₁, …, λ_k as real SymPy symbols named ``lambda_1``, …

    >>> natural_symbols(2)
    (lambda_1, lambda_2)
    """
    return tuple(sympy.Symbol(f"lambda_{i}", real=True) for i in range(1, k + 1))


def expectation_symbols(k: int) -> tuple[sympy.Symbol, ...]:
    """μ₁, …, μ_k as real SymPy symbols named ``mu_1``, …

    >>> expectation_symbols(2)
    (mu_1, mu_2)
    """
    return tuple(sympy.Symbol(f"mu_{i}", real=True) for i in range(1, k + 1))


@dataclass(frozen=True, eq=False)
class Parameter:
    """One standard parameter: its name, SymPy symbol(s), constraint and shape.

    ``symbols`` is a Symbol for a scalar, or an immutable Matrix of symbols
    (``(D, 1)`` for a vector of shape ``(D,)``, ``(D, D)`` for a matrix; a
    symmetric matrix repeats the symbol at (i, j) and (j, i)).

    >>> import sympy
    >>> Parameter("alpha", sympy.Symbol("alpha", positive=True), "positive", r"\\alpha").shape
    ()
    """

    name: str
    symbols: Any
    constraint: str
    latex: str
    shape: tuple[int, ...] = ()

    def __post_init__(self):
        if self.constraint not in CONSTRAINTS:
            raise ValueError(f"unknown constraint {self.constraint!r}; known: {sorted(CONSTRAINTS)}")

    @property
    def unique_symbols(self) -> tuple[sympy.Symbol, ...]:
        """The distinct symbols, in row-major order of first appearance (upper triangle)."""
        if isinstance(self.symbols, sympy.MatrixBase):
            return tuple(dict.fromkeys(self.symbols))
        return (self.symbols,)

    def positions(self) -> list[tuple[int, ...]]:
        """Index into a ``(..., *shape)`` array for each of :attr:`unique_symbols`."""
        if not isinstance(self.symbols, sympy.MatrixBase):
            return [()]
        seen: dict[sympy.Symbol, tuple[int, ...]] = {}
        for i in range(self.symbols.rows):
            for j in range(self.symbols.cols):
                idx = (i, j) if len(self.shape) == 2 else (i,)
                seen.setdefault(self.symbols[i, j], idx)
        return list(seen.values())


#: the largest size of a family built entry by entry in SymPy whose work grows linearly with it (a diagonal Gaussian
#: of D = 100 builds and evaluates in ~5 s)
MAX_ELEMENTWISE_SIZE = 100
#: why a family's size is bounded (the message of a refused size)
SIZE_REASON = "the family is built entry by entry in SymPy, and its work grows with the size"


class Trait(Enum):
    """What a family is, in the words the derive layer asks it: an approximation declares the traits it applies
    to, and a family's candidate is chosen by them (never by its key).  A family declares its traits
    (:attr:`ExponentialFamily.traits`; a factory through :func:`cached_family`), and a family made from a shipped
    one by :func:`dataclasses.replace` keeps them, so it behaves like the family it was made from.

    >>> Trait.BINARY.value
    'binary weights (a Bernoulli q over θ ∈ {0, 1})'
    """

    GAUSSIAN = "a gaussian q (any Gaussian family, or a mixture of Gaussians)"
    FULL_PRECISION = "a Gaussian N(m, S⁻¹) in general dimension with a full precision S"
    DIAGONAL_PRECISION = "a Gaussian N(m, diag(s)⁻¹) in general dimension with a diagonal precision s"
    FIXED_COVARIANCE = "a Gaussian N(m, σ²I) in general dimension with a fixed covariance"
    MIXTURE = "a mixture of Gaussians, as the joint q(θ, z)"
    BINARY = "binary weights (a Bernoulli q over θ ∈ {0, 1})"


@dataclass(frozen=True)
class Draw:
    r"""How NumPy's generator draws θ ~ q for a family with one component: ``rng.<method>(*args, size=…)``, each
    argument a SymPy expression in the standard parameters.

    >>> import sympy
    >>> a, b = sympy.symbols("alpha beta", positive=True)
    >>> Draw("gamma", (a, 1 / b)).args
    (alpha, 1/beta)
    """

    #: the :class:`numpy.random.Generator` method
    method: str
    #: its positional arguments, SymPy expressions in the standard parameters
    args: tuple = ()


def cached_family(factory=None, *, traits=()):
    """``functools.lru_cache`` for a family factory (one object, its quantities derived once, per argument), that
    passes arguments it cannot hash (a list, an array) to the factory itself, whose checks name them.

    ``traits`` (:class:`Trait`) are the factory's families' own: the factory's ``traits`` attribute (read without
    building a family) and each family's :attr:`~ExponentialFamily.traits`."""
    if factory is None:
        return functools.partial(cached_family, traits=traits)
    declared = frozenset(traits)

    def build(*args, **kwargs):
        family = factory(*args, **kwargs)
        return dataclasses.replace(family, traits=declared) if declared and isinstance(family, ExponentialFamily) \
            else family

    cached = functools.lru_cache(maxsize=None)(build)

    @functools.wraps(factory)
    def call(*args, **kwargs):
        try:
            hash((args, tuple(kwargs.items())))
        except TypeError:
            return build(*args, **kwargs)
        return cached(*args, **kwargs)

    call.cache_clear, call.cache_info = cached.cache_clear, cached.cache_info
    call.traits = declared
    return call


def check_constraint(x, name: str, constraint: str, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Return a validated float copy of ``x``: trailing axes ``shape``, satisfying ``constraint``.

    >>> check_constraint([0.2, 0.8], "p", "simplex", (2,))
    array([0.2, 0.8])
    >>> check_constraint([0.2, 0.9], "p", "simplex", (2,))
    Traceback (most recent call last):
    ...
    ValueError: p must be on the probability simplex (positive entries summing to 1)
    """
    a = as_float_array(x, name)
    n = len(shape)
    if a.ndim < n or tuple(a.shape[a.ndim - n :]) != tuple(shape):
        raise ValueError(f"{name} must have shape (..., {', '.join(map(str, shape))}), got {a.shape}")
    if constraint in ("positive", "positive-vector"):
        return check_positive(a, name)
    if constraint == "probability":
        return check_probability(a, name)
    if constraint == "spd":
        return check_spd(a, name, shape[-1])
    if constraint == "simplex":
        if np.any(a <= 0) or np.any(np.abs(a.sum(-1) - 1.0) > _SIMPLEX_ATOL):
            raise ValueError(f"{name} must be {CONSTRAINTS['simplex']}")
        return a
    return a


def _subs_all(exprs, mapping):
    return tuple(sympy.sympify(e).xreplace(mapping) for e in exprs)


def _lambdify(args, exprs):
    """Lambdify a flat list of expressions once; outputs are broadcast and stacked later."""
    return sympy.lambdify(list(args), list(exprs), modules=_MODULES, cse=True)


#: ∫ q(θ) dθ = 1 to this (relative) for a density given by the user: adaptive quadrature is asked
#: for 1e-12; 1e-6 leaves room for heavy tails and is far below any missing normaliser.
NORMALISATION_RTOL = 1e-6


def _batch_shape(**shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of the batch shapes (all axes but the last) of named arguments, or a ``ValueError``
    naming them.

    >>> _batch_shape(theta=(3,), lam=(2,))
    Traceback (most recent call last):
    ...
    ValueError: the batch shapes (all axes but the last) do not broadcast: theta (3,), lam (2,)
    """
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        shown = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise ValueError(f"the batch shapes (all axes but the last) do not broadcast: {shown}") from None


def _stack(values, batch_shape) -> np.ndarray:
    """Broadcast each output (constants come back as Python scalars) and stack on a new last axis."""
    cols = [np.broadcast_to(np.asarray(v, dtype=float), batch_shape) for v in values]
    return np.stack(cols, axis=-1) if cols else np.zeros(batch_shape + (0,))


@dataclass(frozen=True, eq=False)
class ExponentialFamily:
    r"""An exponential family q(θ) = h(θ) exp(λᵀT(θ) − A(λ)), defined symbolically.

    .. math::

        \mu = \nabla A(\lambda) = \mathbb{E}_q[T(\theta)], \qquad
        F(\lambda) = \nabla^2 A(\lambda) = \operatorname{Cov}_q[T(\theta)].

    The attribute names below are a contract used by :mod:`blrkit.derive`
    (Khan & Rue 2023, Sec. 1.2).

    Parameters
    ----------
    name, key : str
        Human name (``"Beta"``) and CLI name (``"beta"``).
    theta : tuple of Symbol
        Components of θ.
    statistics : tuple of Expr
        T(θ), one entry per natural parameter.
    log_base_measure : Expr
        log h(θ).
    natural, expectation : tuple of Symbol
        λ (``lambda_1``, …) and μ (``mu_1``, …).
    log_partition : Expr
        A(λ).
    standard : tuple of Parameter
        The usual parameterisation.
    standard_to_natural : tuple of Expr
        λ in terms of the standard symbols.
    natural_to_standard : dict
        Each standard parameter (by name) in terms of λ.
    expectation_to_natural : tuple of Expr or None
        λ in terms of μ where a closed form exists; otherwise Newton's method.
    support : tuple of (kind, size)
        Blocks of θ in order, each a kind of :data:`SUPPORTS` and a size.
    closed_forms : dict
        Optional closed forms checked against the generic derivation.
    sampler : callable or None
        ``sampler(standard, rng, n) -> (n, len(theta))`` draws θ ~ q for one
        parameter point (Monte-Carlo checks of families with several continuous
        components).
    draw : Draw or None
        How an emitted step draws θ ~ q by NumPy's generator (one component; the
        score-function estimator of :mod:`blrkit.derive.score`); ``None``: no
        sampler (a one-dimensional family is then integrated by quadrature).
    traits : frozenset of Trait
        What the family is, as approximations and candidates ask (:class:`Trait`).
    example : callable or None
        ``example(rng) -> dict`` a random valid standard-parameter point.
    anchor : str
        Paper-anchor key (see :mod:`blrkit.paper`).
    extras : dict
        Family-specific symbolic extras (e.g. the mixture's weight parameters).
    """

    name: str
    key: str
    theta: tuple
    statistics: tuple
    log_base_measure: Any
    natural: tuple
    expectation: tuple
    log_partition: Any
    standard: tuple = ()
    standard_to_natural: tuple = ()
    natural_to_standard: Mapping[str, Any] = field(default_factory=dict)
    expectation_to_natural: tuple | None = None
    support: tuple = ()
    closed_forms: Mapping[str, Any] = field(default_factory=dict)
    sampler: Callable | None = None
    example: Callable | None = None
    anchor: str = "blr"
    extras: Mapping[str, Any] = field(default_factory=dict)
    draw: Draw | None = None
    traits: frozenset = frozenset()

    def __post_init__(self):
        k = len(self.natural)
        if len(self.statistics) != k or len(self.expectation) != k:
            raise ValueError(
                f"{self.name}: need one statistic and one expectation symbol per natural parameter "
                f"(got {len(self.statistics)} statistics, {k} natural, {len(self.expectation)} expectation)"
            )
        if self.standard and len(self.standard_to_natural) != k:
            raise ValueError(f"{self.name}: standard_to_natural must have {k} entries")
        if not self.support:
            object.__setattr__(self, "support", tuple(("real", 1) for _ in self.theta))
        if sum(n for _, n in self.support) != len(self.theta):
            raise ValueError(f"{self.name}: support blocks must cover the {len(self.theta)} components of theta")
        for kind, _ in self.support:
            if kind not in SUPPORTS:
                raise ValueError(f"unknown support {kind!r}; known: {sorted(SUPPORTS)}")
        if isinstance(self.traits, (str, Trait)) or not all(isinstance(t, Trait) for t in self.traits):
            raise TypeError(f"{self.name}: traits must be a set of blrkit.families.Trait, got {self.traits!r}")
        object.__setattr__(self, "traits", frozenset(self.traits))
        if self.draw is not None and (not isinstance(self.draw, Draw) or len(self.theta) != 1):
            raise TypeError(f"{self.name}: draw must be a blrkit.families.Draw (a family of one component) or None, "
                            f"got {self.draw!r}")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_log_partition(
        cls,
        name: str,
        theta,
        statistics,
        log_base_measure,
        natural,
        log_partition,
        *,
        key: str | None = None,
        standard=(),
        standard_to_natural=(),
        natural_to_standard=None,
        expectation_to_natural=None,
        support=(),
        **kwargs,
    ) -> "ExponentialFamily":
        r"""Build a family from T(θ), log h(θ) and A written in the user's own natural symbols.

        The natural symbols are renamed to ``lambda_1``, … everywhere (in A and
        in the maps); expectation symbols ``mu_1``, … are created.  Without
        ``standard``, the natural parameters themselves serve as the standard
        parameterisation (constraint ``"real"``; λ is then only checked for a
        finite A(λ)).

        Examples
        --------
        Von Mises on the circle, λ = (κ cos m, κ sin m):

        >>> import sympy
        >>> th = sympy.Symbol("theta", real=True)
        >>> a, b = sympy.symbols("a b", real=True)
        >>> vm = ExponentialFamily.from_log_partition(
        ...     "von Mises", (th,), (sympy.cos(th), sympy.sin(th)), -sympy.log(2 * sympy.pi),
        ...     (a, b), sympy.log(sympy.besseli(0, sympy.sqrt(a**2 + b**2))),
        ...     support=(("circle", 1),))
        >>> vm.to_expectation([1e-9, 0.0]).round(6)        # μ ≈ (λ₁/2, λ₂/2) near 0
        array([0., 0.])
        """
        natural = tuple(natural)
        lam = natural_symbols(len(natural))
        ren = dict(zip(natural, lam))
        if not standard:
            standard = tuple(Parameter(str(s), l, "real", sympy.latex(l)) for s, l in zip(natural, lam))
            standard_to_natural = tuple(lam)
            natural_to_standard = {str(s): l for s, l in zip(natural, lam)}
        n2s = {k: (v.xreplace(ren) if isinstance(v, sympy.MatrixBase) else sympy.sympify(v).xreplace(ren))
               for k, v in (natural_to_standard or {}).items()}
        mu = expectation_symbols(len(natural))
        e2n = None if expectation_to_natural is None else tuple(expectation_to_natural)
        return cls(
            name=name, key=key or name.lower().replace(" ", "-"), theta=tuple(theta),
            statistics=tuple(sympy.sympify(t) for t in statistics),
            log_base_measure=sympy.sympify(log_base_measure), natural=lam, expectation=mu,
            log_partition=sympy.sympify(log_partition).xreplace(ren), standard=tuple(standard),
            standard_to_natural=tuple(standard_to_natural), natural_to_standard=n2s,
            expectation_to_natural=e2n, support=tuple(support), **kwargs,
        )

    @classmethod
    def from_log_density(cls, name: str, theta, log_density, natural_params, **kwargs) -> "ExponentialFamily":
        r"""Parse log q(θ) written in exponential-family form in the natural parameters.

        log q must be linear in each natural parameter η_i (apart from the
        θ-free log-partition): T_i(θ) = ∂ log q/∂η_i, and the remainder splits
        into a θ-only part (log h) and an η-only part (−A); constants free of
        both go into A.

        .. math::

            \log q(\theta) = \log h(\theta) + \textstyle\sum_i \eta_i T_i(\theta) - A(\eta).

        Examples
        --------
        The inverse Gaussian, η = (−ν/(2m²), −ν/2) for mean m and shape ν:

        >>> import sympy
        >>> x = sympy.Symbol("x", positive=True)
        >>> e1, e2 = sympy.symbols("eta1 eta2", negative=True)
        >>> logp = (-sympy.log(2 * sympy.pi * x**3) / 2 + e1 * x + e2 / x
        ...         + 2 * sympy.sqrt(e1 * e2) + sympy.log(-2 * e2) / 2)
        >>> ig = ExponentialFamily.from_log_density("inverse Gaussian", (x,), logp, (e1, e2),
        ...                                         support=(("positive", 1),))
        >>> ig.statistics
        (x, 1/x)

        The density must be a SymPy expression (a string would create new symbols), contain every
        θ and every natural parameter, and integrate to one: where θ is one continuous scalar, or
        discrete, ∫ q(θ) dθ is computed by quadrature (or summed) at up to three natural-parameter
        points chosen from the symbols' signs (``negative=True`` → −0.7, …) and must be 1 to
        :data:`NORMALISATION_RTOL` (points where A(λ) is not finite are skipped).

        >>> ExponentialFamily.from_log_density("unnormalised", (x,), -sympy.log(x) + e1 * x, (e1,),
        ...                                    support=(("positive", 1),))
        Traceback (most recent call last):
        ...
        ValueError: unnormalised: the density does not integrate to one: ∫ q(θ) dθ = inf at lambda = (-0.7,); write log q with its log-partition, log q = log h(θ) + λᵀT(θ) − A(λ)
        """
        if isinstance(log_density, str) or any(isinstance(v, str) for v in (*tuple(theta), *tuple(natural_params))):
            raise TypeError(f"{name}: give log_density, theta and natural_params as SymPy expressions and symbols, "
                            "not strings (a string creates new symbols, unrelated to yours)")
        natural_params = tuple(natural_params)
        theta = tuple(theta)
        logp = sympy.expand(sympy.sympify(log_density))
        for kind, symbols in (("theta", theta), ("natural parameter", natural_params)):
            absent = [s for s in symbols if s not in logp.free_symbols]
            if absent:
                raise ValueError(f"{name}: the {kind} {', '.join(map(str, absent))} does not appear in the log density")
        stats = []
        for eta in natural_params:
            t = sympy.expand(sympy.diff(logp, eta))
            # the θ-dependent part of ∂ log q/∂η must not depend on η (linearity in η)
            t_theta = sum((term for term in sympy.Add.make_args(t) if term.free_symbols & set(theta)), sympy.S.Zero)
            if t_theta.free_symbols & set(natural_params):
                raise ValueError(f"{name}: log density is not linear in {eta} given theta: got T = {t_theta}")
            if t_theta == 0:
                raise ValueError(f"{name}: the statistic of {eta} is T ≡ 0 (∂ log q/∂{eta} does not depend on "
                                 "theta): it is not a natural parameter")
            stats.append(t_theta)
        rest = sympy.expand(logp - sum(e * t for e, t in zip(natural_params, stats)))
        log_h, minus_a = sympy.S.Zero, sympy.S.Zero
        for term in sympy.Add.make_args(rest):
            has_theta = bool(term.free_symbols & set(theta))
            has_eta = bool(term.free_symbols & set(natural_params))
            if has_theta and has_eta:
                raise ValueError(f"{name}: term {term} couples theta and the natural parameters")
            if has_theta:
                log_h += term
            else:
                minus_a += term
        family = cls.from_log_partition(name, theta, stats, log_h, natural_params, -minus_a, **kwargs)
        family._check_normalised(natural_params)
        return family

    def _check_normalised(self, user_symbols) -> None:
        """∫ q(θ) dθ = 1 at a few λ where it can be computed exactly (quadrature or sums)."""
        import warnings

        from blrkit.families._integrate import expectation

        def values(s):
            if s.is_negative or s.is_nonpositive:
                return (-0.7, -1.6, -0.4)
            if s.is_positive or s.is_nonnegative:
                return (0.7, 1.6, 0.4)
            return (0.3, -0.5, 0.8)

        for point in zip(*(values(s) for s in user_symbols)):
            lam = np.array(point)
            try:
                if not np.isfinite(self.log_partition_value(lam)).all():
                    continue
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    total, _, method = expectation(self, lam, lambda th: np.ones((len(th), 1)))
            except (ValueError, NotImplementedError, ZeroDivisionError, OverflowError):
                continue  # outside the domain, or no exact integration (several continuous θ)
            if method == "monte-carlo":
                return  # the sampler draws from q itself: Monte Carlo cannot test normalisation
            z = float(total[0])
            if not (np.isfinite(z) and abs(z - 1.0) <= NORMALISATION_RTOL):
                raise ValueError(f"{self.name}: the density does not integrate to one: ∫ q(θ) dθ = {z:.6g} at "
                                 f"lambda = {tuple(point)}; write log q with its log-partition, "
                                 "log q = log h(θ) + λᵀT(θ) − A(λ)")

    # ------------------------------------------------------------------ symbolic, derived and cached
    @property
    def dim(self) -> int:
        """K, the number of natural parameters."""
        return len(self.natural)

    @functools.cached_property
    def generic_mean_map(self) -> tuple:
        r"""μ(λ) = ∇A(λ), differentiated from A (no closed form used)."""
        return tuple(sympy.diff(self.log_partition, l) for l in self.natural)

    @property
    def mean_map(self) -> tuple:
        r"""μ(λ) = ∇A(λ) = E_q[T(θ)] (Khan & Rue 2023, Sec. 1.2); the family's closed form if it gives one."""
        return tuple(self.closed_forms.get("mean_map") or self.generic_mean_map)

    @functools.cached_property
    def fisher(self) -> sympy.ImmutableMatrix:
        r"""F(λ) = ∇²A(λ) = ∂μ/∂λ = Cov_q[T(θ)], a K × K SymPy matrix.

        The family's closed form if it gives one (``closed_forms["fisher"]``), else
        :attr:`generic_fisher`; the contract test proves they agree.
        """
        closed = self.closed_forms.get("fisher")
        return sympy.ImmutableMatrix(closed) if closed is not None else self.generic_fisher

    @functools.cached_property
    def generic_fisher(self) -> sympy.ImmutableMatrix:
        r"""∂μ/∂λ by differentiating :attr:`mean_map` (the closed form when given: smaller
        expressions; the contract test proves it equals ∇A), upper triangle only.
        """
        mm, lam, k = self.mean_map, self.natural, self.dim
        upper = {(i, j): sympy.diff(mm[i], lam[j]) for i in range(k) for j in range(i, k)}
        return sympy.ImmutableMatrix(k, k, lambda i, j: upper[(min(i, j), max(i, j))])

    @functools.cached_property
    def has_constant_base_measure(self) -> bool:
        """True when log h(θ) does not depend on θ (then ∇_μ(−H) = λ, Khan & Rue 2023, Sec. 1.3)."""
        return not (sympy.sympify(self.log_base_measure).free_symbols & set(self.theta))

    @functools.cached_property
    def expected_log_base_measure(self):
        """E_q[log h(θ)] in λ: the constant itself, the family's closed form, or ``None``."""
        if self.has_constant_base_measure:
            return sympy.sympify(self.log_base_measure)
        return self.closed_forms.get("expected_log_base_measure")

    @functools.cached_property
    def generic_entropy(self):
        r"""H(q) = A(λ) − λᵀ∇A(λ) − E_q[log h], or ``None`` when E_q[log h] has no closed form."""
        elh = self.expected_log_base_measure
        if elh is None:
            return None
        return self.log_partition - sum(l * m for l, m in zip(self.natural, self.generic_mean_map)) - elh

    @property
    def entropy(self):
        r"""The entropy H(q) in λ (the family's closed form if given); ``None`` if not available.

        .. math:: H(q) = A(\lambda) - \lambda^\top\mu - \mathbb{E}_q[\log h(\theta)].
        """
        return self.closed_forms.get("entropy", self.generic_entropy)

    def kl(self, other_natural_symbols=None):
        r"""KL(q ‖ p) for q = this family at λ and p at ``other_natural_symbols`` (default ``lambda_p_i``).

        .. math:: \mathrm{KL}(q\,\|\,p) = A(\lambda_p) - A(\lambda_q) - (\lambda_p - \lambda_q)^\top \mu_q.

        >>> from blrkit.families import Exponential
        >>> Exponential().kl()
        log(-lambda_1) - log(-lambda_p_1) + (-lambda_1 + lambda_p_1)/lambda_1
        """
        if other_natural_symbols is None:
            other_natural_symbols = tuple(sympy.Symbol(f"lambda_p_{i}", real=True) for i in range(1, self.dim + 1))
        other = tuple(other_natural_symbols)
        a_p = self.log_partition.xreplace(dict(zip(self.natural, other)))
        return a_p - self.log_partition - sum((p - q) * m for p, q, m in zip(other, self.natural, self.mean_map))

    @functools.cached_property
    def log_density(self):
        r"""log q(θ) = log h(θ) + λᵀT(θ) − A(λ), in θ and λ."""
        return self.log_base_measure + sum(l * t for l, t in zip(self.natural, self.statistics)) - self.log_partition

    @functools.cached_property
    def standard_symbols(self) -> tuple:
        """All distinct standard symbols, in the order of :attr:`standard` (the numeric argument order)."""
        return tuple(s for p in self.standard for s in p.unique_symbols)

    # ------------------------------------------------------------------ display
    def latex(self) -> str:
        r"""The definition as a LaTeX ``align`` block: T, log h, λ, A, μ and the standard ↔ natural maps."""
        lx = sympy.latex

        def vec(exprs):
            return r"\left(" + r",\; ".join(lx(e) for e in exprs) + r"\right)"

        mu = self.closed_forms.get("expectation_standard")
        lines = [
            rf"q(\theta) &= h(\theta)\exp\left(\lambda^\top T(\theta) - A(\lambda)\right),"
            rf"\quad \theta = {vec(self.theta)}",
            rf"T(\theta) &= {vec(self.statistics)}",
            rf"\log h(\theta) &= {lx(self.log_base_measure)}",
            rf"\lambda &= {vec(self.standard_to_natural)}",
            rf"A(\lambda) &= {lx(self.log_partition)}",
            rf"\mu &= {vec(mu) if mu is not None else vec(self.mean_map)}",
        ]
        for p in self.standard:
            lines.append(rf"{p.latex} &= {lx(self.natural_to_standard[p.name])}")
        return "\\begin{align}\n" + " \\\\\n".join(lines) + "\n\\end{align}"

    def _repr_latex_(self) -> str:
        return "$$" + self.latex().replace("align}", "aligned}") + "$$"

    def summary(self) -> str:
        """One line of plain text for the CLI.

        >>> from blrkit.families import Bernoulli
        >>> Bernoulli().summary()
        'Bernoulli [bernoulli]: theta=(theta,), T=(theta,), standard=(p), lambda=(log(p/(1 - p)),)'
        """
        std = ", ".join(p.name for p in self.standard)
        return (f"{self.name} [{self.key}]: theta={self.theta}, T={self.statistics}, "
                f"standard=({std}), lambda={self.standard_to_natural}")

    def __repr__(self) -> str:
        return f"ExponentialFamily({self.name!r}, K={self.dim})"

    # ------------------------------------------------------------------ numeric: compiled at first use
    @functools.cached_property
    def _num(self) -> "_Compiled":
        """Lambdified functions, each compiled on its first use (never at import)."""
        return _Compiled(self)

    def _lam(self, lam, name: str = "lam") -> np.ndarray:
        """Validate λ: finite, last axis K, inside the natural-parameter domain."""
        a = as_float_array(lam, name, min_ndim=1)
        if a.shape[-1] != self.dim:
            raise ValueError(f"{name} must have shape (..., {self.dim}) for {self.name}, got {a.shape}")
        try:
            self._standard_unchecked(a, validate=True)
        except ValueError as err:
            raise ValueError(f"{name} lies outside the natural-parameter domain of {self.name}: {err}") from None
        return a

    def _cols(self, a: np.ndarray) -> list[np.ndarray]:
        return [a[..., i] for i in range(a.shape[-1])]

    def _call(self, fname: str, a: np.ndarray) -> np.ndarray:
        return _stack(self._num[fname](*self._cols(a)), a.shape[:-1])

    def _finite(self, fname: str, a: np.ndarray, what: str, name: str = "lam") -> np.ndarray:
        """:meth:`_call`, refusing an overflow (λ too large or too near the domain's boundary, θ too large) with a
        ``ValueError`` naming the argument and its scale, instead of returning inf or NaN."""
        with np.errstate(all="ignore"):
            out = self._call(fname, a)
        return check_finite_result(out, f"{what} of {self.name}", **{name: a})

    def _standard_unchecked(self, lam: np.ndarray, validate: bool = False) -> dict[str, np.ndarray]:
        out = {}
        with np.errstate(all="ignore"):
            for p in self.standard:
                vals = _stack(self._num["to_standard"][p.name](*self._cols(lam)), lam.shape[:-1])
                out[p.name] = vals.reshape(lam.shape[:-1] + p.shape)
            a_val = self._call("A", lam)[..., 0]
        if validate:
            for p in self.standard:
                check_constraint(out[p.name], p.name, p.constraint, p.shape)
            if not np.all(np.isfinite(a_val)):
                raise ValueError("A(lambda) must be finite")
        return out

    def in_domain(self, lam) -> bool:
        """True when every λ in the batch lies in the natural-parameter domain.

        >>> from blrkit.families import Gamma
        >>> Gamma().in_domain([0.5, -1.0]), Gamma().in_domain([0.5, 1.0])
        (True, False)
        """
        try:
            self._lam(lam)
        except ValueError:
            return False
        return True

    def to_natural(self, **standard) -> np.ndarray:
        r"""Standard parameters (keyword arguments, as in :attr:`standard`) → λ, shape ``(..., K)``.

        >>> from blrkit.families import UnivariateGaussian
        >>> UnivariateGaussian().to_natural(m=1.0, S=2.0)     # λ = (S m, −S/2)
        array([ 2., -1.])
        """
        names = [p.name for p in self.standard]
        if set(standard) != set(names):
            raise TypeError(f"{self.name}.to_natural takes exactly the standard parameters {names}, got {sorted(standard)}")
        arrays, batch = [], []
        for p in self.standard:
            a = check_constraint(standard[p.name], p.name, p.constraint, p.shape)
            arrays.append((p, a))
            batch.append(a.shape[: a.ndim - len(p.shape)])
        try:
            shape = np.broadcast_shapes(*batch) if batch else ()
        except ValueError:
            shown = ", ".join(f"{p.name} {b}" for (p, _), b in zip(arrays, batch))
            raise ValueError(f"standard parameters must have broadcastable batch shapes, got {shown}") from None
        args = [np.broadcast_to(a[(Ellipsis,) + idx], shape) for p, a in arrays for idx in p.positions()]
        with np.errstate(all="ignore"):
            lam = _stack(self._num["to_natural"](*args), shape)
        return check_finite_result(lam, f"λ of {self.name}", **{p.name: a for p, a in arrays})

    def to_standard(self, lam) -> dict[str, np.ndarray]:
        """λ ``(..., K)`` → dict of standard parameters, each ``(..., *shape)``."""
        return self._standard_unchecked(self._lam(lam))

    def to_expectation(self, lam) -> np.ndarray:
        r"""μ = ∇A(λ) = E_q[T(θ)], shape ``(..., K)``."""
        return self._finite("mu", self._lam(lam), "μ = ∇A(λ)")

    def log_partition_value(self, lam) -> np.ndarray:
        """A(λ), shape ``(...)``."""
        return self._finite("A", self._lam(lam), "A(λ)")[..., 0]

    def fisher_information(self, lam) -> np.ndarray:
        r"""F(λ) = ∇²A(λ), shape ``(..., K, K)``."""
        a = self._lam(lam)
        return self._finite("fisher", a, "F(λ) = ∇²A(λ)").reshape(a.shape[:-1] + (self.dim, self.dim))

    def from_expectation(self, mu) -> np.ndarray:
        r"""μ → λ: the closed form when the family has one, else Newton's method on ∇A(λ) = μ.

        Newton minimises the convex A(λ) − λᵀμ with steps F(λ)⁻¹(∇A(λ) − μ),
        halved until they stay in the domain and decrease the objective, from the
        family's start point (``closed_forms["newton_start"]``, else λ = 0), until
        ‖∇A(λ) − μ‖∞ ≤ 1e-12 · max(1, ‖μ‖∞).

        >>> from blrkit.families import Beta
        >>> q = Beta()
        >>> lam = q.from_expectation(q.to_expectation([1.0, 2.0]))
        >>> bool(abs(lam - [1.0, 2.0]).max() < 1e-9)
        True
        """
        m = as_float_array(mu, "mu", min_ndim=1)
        if m.shape[-1] != self.dim:
            raise ValueError(f"mu must have shape (..., {self.dim}) for {self.name}, got {m.shape}")
        if "from_mu" in self._num:
            with np.errstate(all="ignore"):
                lam = self._call("from_mu", m)
        else:
            flat = m.reshape(-1, self.dim)
            lam = np.stack([self._newton(row) for row in flat]).reshape(m.shape)
        if not np.all(np.isfinite(lam)) or not self.in_domain(lam):
            raise ValueError(f"mu is not a valid expectation parameter of {self.name} (no λ in the domain maps to it)")
        return lam

    def _start(self) -> np.ndarray:
        start = self.closed_forms.get("newton_start")
        if start is not None:
            return np.asarray(start, dtype=float)
        return np.zeros(self.dim)

    def _objective(self, lam: np.ndarray, mu: np.ndarray) -> float:
        return float(self._call("A", lam)[0] - lam @ mu)

    def _newton(self, mu: np.ndarray) -> np.ndarray:
        lam = self._start()
        if not self.in_domain(lam):
            raise ValueError(f"{self.name}: Newton's start λ = {lam} lies outside the domain; "
                             "give closed_forms['newton_start']")
        f = self._objective(lam, mu)
        scale = max(1.0, float(np.max(np.abs(mu))))
        for _ in range(500):
            grad = self._call("mu", lam) - mu
            if np.max(np.abs(grad)) <= _NEWTON_TOL * scale:
                return lam
            fisher = self._call("fisher", lam).reshape(self.dim, self.dim)
            try:
                step = np.linalg.solve(fisher, grad)
            except np.linalg.LinAlgError:
                step = np.full(self.dim, np.nan)
            if not np.all(np.isfinite(step)):
                raise ValueError(f"mu is not a valid expectation parameter of {self.name} "
                                 "(Newton met a singular Fisher matrix)")
            t = 1.0
            while t > 1e-14:
                new = lam - t * step
                if self.in_domain(new):
                    f_new = self._objective(new, mu)
                    # Armijo decrease; near the solution rounding hides it, so accept small steps
                    if f_new <= f - 1e-4 * t * float(grad @ step) or np.max(np.abs(grad)) < 1e-6 * scale:
                        break
                t /= 2
            else:
                raise ValueError(f"mu is not a valid expectation parameter of {self.name} (Newton stalled)")
            lam, f = new, self._objective(new, mu)
        raise ValueError(f"mu: Newton's method for {self.name} did not converge in 500 steps")

    def entropy_value(self, lam) -> np.ndarray:
        r"""H(q) = A(λ) − λᵀμ − E_q[log h], shape ``(...)``; E_q[log h] numeric when it has no closed form."""
        a = self._lam(lam)
        with np.errstate(all="ignore"):
            mu = self._call("mu", a)
            if "elh" in self._num:
                elh = self._call("elh", a)[..., 0]
            else:
                from blrkit.families._integrate import expectation

                flat = a.reshape(-1, self.dim)
                elh = np.array([expectation(self, row, self._num_log_h)[0] for row in flat]).reshape(a.shape[:-1])
            h = self._call("A", a)[..., 0] - np.sum(a * mu, axis=-1) - elh
        return check_finite_result(h, f"the entropy of {self.name}", lam=a)

    def _num_log_h(self, theta: np.ndarray) -> np.ndarray:
        return self._call("log_h", theta)

    def kl_value(self, lam_q, lam_p) -> np.ndarray:
        r"""KL(q ‖ p) = A(λ_p) − A(λ_q) − (λ_p − λ_q)ᵀμ_q, shape ``(...)``."""
        q, p = self._lam(lam_q, "lam_q"), self._lam(lam_p, "lam_p")
        batch = _batch_shape(lam_q=q.shape[:-1], lam_p=p.shape[:-1])
        q, p = np.broadcast_to(q, batch + q.shape[-1:]), np.broadcast_to(p, batch + p.shape[-1:])
        with np.errstate(all="ignore"):
            mu = self._call("mu", q)
            kl = self._call("A", p)[..., 0] - self._call("A", q)[..., 0] - np.sum((p - q) * mu, axis=-1)
        return check_finite_result(kl, f"KL(q ‖ p) of {self.name}", lam_q=q, lam_p=p)

    def statistics_value(self, theta) -> np.ndarray:
        """T(θ) for θ of shape ``(..., len(theta))``, shape ``(..., K)``."""
        return self._finite("T", self._theta(theta), "T(θ)", "theta")

    def _theta(self, theta) -> np.ndarray:
        th = as_float_array(theta, "theta", min_ndim=1)
        n = len(self.theta)
        if th.shape[-1] != n:
            raise ValueError(f"theta must have shape (..., {n}) for {self.name}, got {th.shape}")
        i = 0
        for kind, size in self.support:
            block = th[..., i : i + size]
            if not _in_support(block, kind):
                raise ValueError(f"theta must lie in the support of {self.name}: components {i}..{i + size - 1} "
                                 f"in {SUPPORTS[kind]}")
            i += size
        return th

    def log_density_value(self, theta, lam) -> np.ndarray:
        r"""log q(θ) = log h(θ) + λᵀT(θ) − A(λ); θ ``(..., len(theta))``, λ ``(..., K)``, broadcast."""
        th, a = self._theta(theta), self._lam(lam)
        batch = _batch_shape(theta=th.shape[:-1], lam=a.shape[:-1])
        th = np.broadcast_to(th, batch + th.shape[-1:])
        a = np.broadcast_to(a, batch + a.shape[-1:])
        with np.errstate(all="ignore"):
            out = _stack(self._num["log_density"](*self._cols(th), *self._cols(a)), batch)[..., 0]
        return check_finite_result(out, f"log q(θ) of {self.name}", theta=th, lam=a)

    def random_natural(self, rng: np.random.Generator) -> np.ndarray:
        """λ at the family's random example point (for checks and demonstrations)."""
        if self.example is None:
            raise ValueError(f"{self.name} has no example point generator")
        return self.to_natural(**self.example(rng))

    @property
    def citation(self) -> str:
        """Short citation of the family's paper anchor."""
        return cite(self.anchor)


class _Compiled(dict):
    """Lazy table of lambdified functions of one family: compiled on first lookup, then cached."""

    def __init__(self, family: ExponentialFamily):
        super().__init__()
        self._family = family

    def __contains__(self, fname) -> bool:
        q = self._family
        if fname == "from_mu":
            return q.expectation_to_natural is not None
        if fname == "elh":
            return q.expected_log_base_measure is not None
        return True

    def __missing__(self, fname: str):
        q = self._family
        lam = q.natural
        if fname == "to_standard":
            fn = {}
            for p in q.standard:
                expr = q.natural_to_standard[p.name]
                fn[p.name] = _lambdify(lam, list(expr) if isinstance(expr, sympy.MatrixBase) else [expr])
        else:
            args, exprs = {
                "A": (lam, lambda: [q.log_partition]),
                "mu": (lam, lambda: q.mean_map),
                "fisher": (lam, lambda: list(q.fisher)),
                "to_natural": (q.standard_symbols, lambda: q.standard_to_natural),
                "log_density": (tuple(q.theta) + tuple(lam), lambda: [q.log_density]),
                "T": (q.theta, lambda: q.statistics),
                "log_h": (q.theta, lambda: [q.log_base_measure]),
                "from_mu": (q.expectation, lambda: q.expectation_to_natural),
                "elh": (lam, lambda: [q.expected_log_base_measure]),
            }[fname]
            fn = _lambdify(args, exprs())
        self[fname] = fn
        return fn


def _in_support(block: np.ndarray, kind: str) -> bool:
    if kind == "real":
        return True
    if kind == "positive":
        return bool(np.all(block > 0))
    if kind == "unit-interval":
        return bool(np.all((block > 0) & (block < 1)))
    if kind == "circle":
        return bool(np.all(np.abs(block) <= np.pi))
    if kind == "binary":
        return bool(np.all((block == 0) | (block == 1)))
    if kind == "count":
        return bool(np.all((block >= 0) & (block == np.round(block))))
    if kind == "one-hot":
        return bool(np.all((block == 0) | (block == 1)) and np.all(block.sum(-1) <= 1))
    if kind == "simplex":
        return bool(np.all(block > 0) and np.all(np.abs(block.sum(-1) - 1) <= _SIMPLEX_ATOL))
    raise ValueError(f"unknown support {kind!r}")
