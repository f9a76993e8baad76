r"""Approximations of the natural gradient, as composable objects (Khan & Rue 2023, Table 1).

Each approximation is a small immutable value: a name, a paper anchor, a one-line LaTeX
statement of the rewrite, and the rewrite itself (:meth:`Approximation.substitutions`),
which a derivation applies to its current update, in the order the user gave, like
``optax.chain``.  An expectation that no approximation removes stays an explicit
:math:`\mathbb{E}_q[\cdot]`; the emitted code estimates it by Monte Carlo.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..paper import cite


@dataclass(frozen=True)
class Approximation:
    """Base class: ``name``, ``key`` (CLI name), ``anchor`` and a LaTeX ``statement``."""

    name = "approximation"
    key = "approximation"
    anchor = "blr"
    statement = ""
    #: family kinds the approximation makes sense for
    families = ()

    @property
    def label(self) -> str:
        """The name as a step label in a derivation."""
        return self.name[0].upper() + self.name[1:]

    @property
    def citation(self) -> str:
        return cite(self.anchor)

    def substitutions(self, terms: dict[str, sp.Basic]) -> dict:
        """The rewrite: a SymPy substitution over the derivation's named ``terms``."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class DeltaMethod(Approximation):
    r"""Delta method: :math:`\mathbb{E}_q[f(\theta)] \approx f(m)` (Khan & Rue 2023, Sec. 1.3).

    Applied to the expected gradient and Hessian of the loss, it turns the BLR into
    gradient descent (fixed covariance) or Newton's method (full covariance).

    >>> DeltaMethod().name
    'delta method'
    """

    name = "delta method"
    key = "delta"
    anchor = "delta-method"
    statement = r"\mathbb{E}_{q}[f(\theta)] \approx f(m)"
    families = ("gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian")

    def substitutions(self, terms):
        pairs = (("E_g", "g"), ("E_H", "H"), ("E_h", "h"), ("E_g_batch", "g_batch"),
                 ("E_h_gn", "h_gn"), ("E_h_gn_batch", "h_gn_batch"))
        return {terms[e]: terms[p] for e, p in pairs if e in terms and p in terms}


@dataclass(frozen=True)
class FixedCovariance(Approximation):
    r"""Fixed covariance: :math:`q = \mathcal{N}(m, I)`, only the mean is learned (Sec. 1.3).

    A rewrite of the family, not of an expectation: the entropy of :math:`q` is then
    constant, so the BLR reads :math:`\lambda \leftarrow \lambda - \rho\nabla_\mu\mathbb{E}_q[\bar\ell]`.
    It makes sense for Gaussian candidates only.
    """

    name = "fixed covariance"
    key = "fixed-covariance"
    anchor = "fixed-covariance"
    statement = r"q = \mathcal{N}(m, I)"
    families = ("gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian",
                "gaussian")

    def substitutions(self, terms):
        return {}


@dataclass(frozen=True)
class StepSize(Approximation):
    r"""A numeric learning rate :math:`\rho \in (0, 1]` in place of the symbol (Khan & Rue 2023, Sec. 1.2).

    Written ``"rho=0.5"`` or ``"rho=1/4"``; the value is kept as an exact rational so that the
    derivation stays exact and prints it as a number.

    >>> StepSize("1/4").key, StepSize(0.5).statement
    ('rho=1/4', '\\rho = 1/2')
    """

    value: sp.Rational = sp.Integer(1)

    def __post_init__(self):
        try:
            v = sp.Rational(str(self.value).strip())
        except (TypeError, ValueError, SyntaxError):
            raise ValueError(f"rho must be a number in (0, 1] such as 0.5 or 1/4, got {self.value!r}") from None
        if not 0 < v <= 1:
            raise ValueError(f"rho must be in (0, 1], got {self.value!r}")
        object.__setattr__(self, "value", v)

    anchor = "blr"

    @property
    def name(self) -> str:
        return f"rho = {self.value}"

    @property
    def label(self) -> str:
        return f"ρ = {self.value}"

    @property
    def key(self) -> str:
        return f"rho={self.value}"

    @property
    def statement(self) -> str:
        return rf"\rho = {self.value}"

    def substitutions(self, terms):
        return {terms["rho"]: self.value}


@dataclass(frozen=True)
class UnitStep(StepSize):
    r"""Learning rate :math:`\rho = 1` (Khan & Rue 2023, Sec. 5.1).

    For conjugate models :math:`\nabla_\mu\mathbb{E}_q[\bar\ell]` does not depend on
    :math:`\mu`, and one step reaches the exact posterior from any start.
    """

    value: sp.Rational = sp.Integer(1)
    anchor = "unit-step"


@dataclass(frozen=True)
class StochasticGradient(Approximation):
    r"""Minibatch gradient: :math:`\sum_{i=1}^N \nabla\ell_i \approx \frac{N}{M}\sum_{i\in\mathcal{B}}\nabla\ell_i`.

    An unbiased estimate from a minibatch :math:`\mathcal{B}` of :math:`M` of the
    :math:`N` terms (Khan & Rue 2023, Sec. 4.1).  A sum of squared per-example gradients
    left by :class:`GaussNewton` is estimated the same way,
    :math:`\sum_{i=1}^N (\nabla\ell_i)^2 \approx \frac{N}{M}\sum_{i\in\mathcal{B}}(\nabla\ell_i)^2`.
    """

    name = "stochastic gradient"
    key = "stochastic"
    anchor = "stochastic-gradient"
    statement = r"\nabla\ell \approx \tfrac{N}{M}\hat{g}_{\mathcal{B}}"
    families = ("gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian")

    def substitutions(self, terms):
        scale = terms["n_data"] / terms["n_batch"]
        out = {}
        if "g" in terms and "g_batch" in terms:
            out[terms["g"]] = scale * terms["g_batch"]
        if "E_g" in terms and "E_g_batch" in terms:
            out[terms["E_g"]] = scale * terms["E_g_batch"]
        for full in ("h_gn", "E_h_gn"):
            if full in terms and full + "_batch" in terms:
                out[terms[full]] = scale * terms[full + "_batch"]
        return out


@dataclass(frozen=True)
class GaussNewton(Approximation):
    r"""Gauss–Newton Hessian: :math:`\mathrm{diag}\,\nabla^2\ell \approx \sum_{i=1}^N (\nabla\ell_i)^2`.

    For a loss that is a sum :math:`\ell = \sum_{i=1}^N \ell_i`, the diagonal of the Hessian
    is replaced by the sum of the squared per-example gradients (elementwise squares): the
    diagonal "empirical Fisher", which Khan et al. (2018) call Gauss–Newton.  It needs no
    second derivatives and is non-negative, so the BLR's precision stays positive for every
    :math:`\rho \in (0, 1)`.  Applied after the delta method it is evaluated at the mean
    :math:`m_t` (online Gauss–Newton, OGN); without it, at samples :math:`\theta \sim q_t`
    (variational OGN).  Follow it with :class:`StochasticGradient` to sum over a minibatch
    (Khan & Rue 2023, Sec. 4.4).

    >>> GaussNewton().key, GaussNewton().families
    ('gauss-newton', ('diagonal-gaussian',))
    """

    name = "Gauss-Newton Hessian"
    key = "gauss-newton"
    anchor = "ogn"
    statement = r"\mathrm{diag}\,\nabla^2\ell \approx \sum_{i=1}^{N} (\nabla\ell_i)^2"
    families = ("diagonal-gaussian",)

    def substitutions(self, terms):
        pairs = (("h", "h_gn"), ("E_h", "E_h_gn"))
        return {terms[a]: terms[b] for a, b in pairs if a in terms and b in terms}


#: CLI name -> approximation (``"rho=<number>"`` is parsed by :func:`as_approximation`)
APPROXIMATIONS: dict[str, Approximation] = {
    a.key: a for a in (DeltaMethod(), FixedCovariance(), UnitStep(), StochasticGradient(), GaussNewton())
}


def as_approximation(a) -> Approximation:
    """An :class:`Approximation` from itself or its key: ``"delta"``, ``"rho=1"``, ``"rho=0.5"``, ``"rho=1/4"``.

    >>> as_approximation("rho=0.25")
    StepSize(value=1/4)
    >>> as_approximation("rho=2")
    Traceback (most recent call last):
    ...
    ValueError: rho must be in (0, 1], got '2'
    """
    if isinstance(a, Approximation):
        return a
    if not isinstance(a, str):
        raise TypeError(f"an approximation must be an Approximation or its key (a str), got {type(a).__name__}")
    key = a.strip().replace(" ", "")
    if key in APPROXIMATIONS:
        return APPROXIMATIONS[key]
    if key.startswith("rho="):
        step = StepSize(key[4:])
        return UnitStep() if step.value == 1 else step
    raise ValueError(f"unknown approximation {a!r}; known: {', '.join(APPROXIMATIONS)}, or rho=<number in (0, 1]>")


def ordered(approximations) -> tuple[Approximation, ...]:
    """Check that an order of approximations has one meaning: the minibatch estimate rewrites the sums
    that the Gauss–Newton approximation creates, so ``stochastic`` must come after ``gauss-newton``;
    no approximation may be given twice, and at most one step size."""
    approx = tuple(as_approximation(a) for a in approximations)
    keys = [a.key for a in approx]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ValueError(f"approximation {sorted(dup)[0]!r} is given twice")
    if sum(isinstance(a, StepSize) for a in approx) > 1:
        raise ValueError("give at most one step size rho=…")
    if "stochastic" in keys and "gauss-newton" in keys and keys.index("stochastic") < keys.index("gauss-newton"):
        raise ValueError("'stochastic' before 'gauss-newton' would estimate a sum that does not exist yet: "
                         "give gauss-newton first (it creates the sum of squared gradients that the minibatch "
                         "estimates)")
    return approx
