r"""``derive``: the Bayesian learning rule for a family, a loss and approximations.

.. math::

    \lambda_{t+1} = (1-\rho)\lambda_t - \rho\nabla_\mu\mathbb{E}_{q_t}[\bar\ell(\theta)],
    \qquad \bar\ell = \ell - \log p_0

(Khan & Rue 2023, Sec. 1.2), brought by SymPy to the textbook form of a known algorithm.
"""

from __future__ import annotations

import re

from sympy import MatrixSymbol

from .approximations import APPROXIMATIONS, Approximation, FixedCovariance, UnitStep
from .derivation import Argument, Assignment, Derivation, Equation
from .gaussian import DerivationError, derive_gaussian
from .losses import ExpressionLoss, OracleLoss

GAUSSIAN_KINDS = {
    "gaussian-fixed-covariance": "fixed",
    "multivariate-gaussian": "full",
    "diagonal-gaussian": "diagonal",
}

_STATE_DOCS = {
    "m": "mean m_t, (..., D)",
    "S": "precision S_t, (..., D, D), symmetric positive definite",
    "s": "diagonal precision s_t, (..., D), positive",
    "rho": "learning rate ρ in (0, 1], scalar or (...)",
    "grad": "callable, m (..., D) -> ∇ℓ(m) (..., D)",
    "hess": "callable, m (..., D) -> ∇²ℓ(m) (..., D, D)",
    "hess_diag": "callable, m (..., D) -> diag ∇²ℓ(m) (..., D)",
    "grad_batch": "callable, m (..., D) -> sum of the minibatch gradients (..., D)",
    "grad_terms": "callable, m (..., D) -> per-example gradients ∇ℓ_i(m) of the minibatch, stacked on "
                  "axis -2: (..., M, D)",
    "n_data": "number N of terms in the loss",
    "n_batch": "number M of terms in the minibatch",
    "n_samples": "number of Monte-Carlo samples",
    "rng": "numpy.random.Generator for the Monte-Carlo samples",
}


def _family_key(family) -> str:
    key = family if isinstance(family, str) else getattr(family, "key", None)
    if key is None:
        raise TypeError(f"family must be a family object or its key, got {type(family).__name__}")
    return key


def derive(family, loss=None, prior=None, approximations=(), *, function_name: str = "blr_step",
           title: str | None = None, anchor: str | None = None) -> Derivation:
    r"""Derive the BLR update of ``family`` for ``loss`` under ``approximations``.

    Parameters
    ----------
    family : ExponentialFamily or str
        The candidate q, or its key (``"multivariate-gaussian"``, ``"beta"``, …).
    loss : OracleLoss or ExpressionLoss, optional
        The loss ℓ; default an :class:`OracleLoss` (known through ∇ℓ and ∇²ℓ).
    prior : GaussianPrior or ConjugatePrior, optional
        The prior p₀ in the family; ``None`` means ℓ̄ = ℓ.
    approximations : sequence of Approximation or str
        Applied in order (``"delta"``, ``"rho=1"``, ``"fixed-covariance"``, ``"gauss-newton"``,
        ``"stochastic"``).

    Returns
    -------
    Derivation

    Examples
    --------
    Newton's method is the BLR with a Gaussian, the delta method and ρ = 1:

    >>> d = derive("multivariate-gaussian", approximations=["delta", "rho=1"])
    >>> from blrkit.derive.printing import latex
    >>> [latex(eq.rhs) for eq in d.update]
    ['\\nabla^2\\ell(m_t)', 'm_t - S_{t+1}^{-1} \\nabla\\ell(m_t)']
    """
    approx = tuple(_as_approximation(a) for a in approximations)
    key = _family_key(family)
    if title is None and anchor is None:
        title, anchor = _known_algorithm(key, loss, prior, approx)
    for a in approx:
        if a.families and key not in a.families:
            raise DerivationError(f"{a.name} does not apply to the {key} family "
                                  f"(it applies to: {', '.join(a.families)})")
    loss = OracleLoss() if loss is None else loss
    if key in GAUSSIAN_KINDS:
        kind = GAUSSIAN_KINDS[key]
        if any(isinstance(a, FixedCovariance) for a in approx):
            key, kind = "gaussian-fixed-covariance", "fixed"
        if isinstance(loss, OracleLoss) and prior is not None:
            raise DerivationError("with an OracleLoss, put the prior into the loss: ℓ̄ = ℓ − log p₀")
        fields = derive_gaussian(kind, loss, prior, approx)
        return _assemble_gaussian(key, fields, approx, function_name, title, anchor)
    from .conjugate import derive_conjugate

    if isinstance(loss, OracleLoss):
        raise DerivationError(f"the {key} family needs a conjugate likelihood, not a generic loss with "
                              "oracles (oracle losses need a Gaussian candidate)")

    return derive_conjugate(family, loss, prior, approx, function_name=function_name, title=title,
                            anchor=anchor)


def _known_algorithm(key, loss, prior, approx) -> tuple[str | None, str | None]:
    """The title and paper anchor of the recipe these choices reproduce, if one does."""
    from .recipes import RECIPES

    keys = tuple(a.key for a in approx)
    for r in RECIPES.values():
        if r.family == key and r.approximations == keys and r.problem is None and prior is None \
                and (loss is None or isinstance(loss, OracleLoss)):
            return r.title, r.anchor
    return None, None


def _as_approximation(a) -> Approximation:
    if isinstance(a, Approximation):
        return a
    if isinstance(a, str) and a in APPROXIMATIONS:
        return APPROXIMATIONS[a]
    raise ValueError(f"unknown approximation {a!r}; known: {', '.join(APPROXIMATIONS)}")


def _assemble_gaussian(key, f, approx, function_name, title, anchor) -> Derivation:
    update = [Equation(lhs, rhs) for lhs, rhs in f["update"]]
    unit = any(isinstance(a, UnitStep) for a in approx)
    free = set().union(*(_names(eq.rhs) for eq in update))
    elementwise = f["elementwise"]
    state = ["m"] + ([] if key == "gaussian-fixed-covariance" else ["s" if elementwise else "S"])
    mc = bool(_EXPECTED & free)
    state = [n for n in state if n in free or mc]  # Monte Carlo samples θ ~ q need m and S
    args = [Argument(n, "vector" if n in ("m", "s") else "matrix", _STATE_DOCS[n]) for n in state]
    if not unit and "rho" in free:
        args.append(Argument("rho", "scalar", _STATE_DOCS["rho"]))
    for sym, doc in _data_docs(f):
        kind = "scalar" if not isinstance(sym, MatrixSymbol) else "data"
        args.append(Argument(_code_name(sym), kind, doc))
    oracles = []
    h_name = "h" if elementwise else "H"
    gn_lines, from_terms = _gauss_newton(free, "")
    oracles += gn_lines
    if "g" in free and "g" not in from_terms:
        oracles.append("g = grad(m)")
    if "g_batch" in free and "g_batch" not in from_terms:
        oracles.append("g_batch = grad_batch(m)")
    if h_name in free:
        oracles.append(f"{h_name} = {'hess_diag' if elementwise else 'hess'}(m)")
    if mc:
        oracles += _monte_carlo(elementwise, "E_g" in free, ({"E_H", "E_h"} & free), free)
    for name in ("grad", "grad_batch", "hess", "hess_diag", "grad_terms"):
        if any(re.search(rf"\b{name}\(", o) for o in oracles):
            args.append(Argument(name, "callable", _STATE_DOCS[name]))
    if "n_data" in free:
        args += [Argument("n_data", "int", _STATE_DOCS["n_data"]), Argument("n_batch", "int", _STATE_DOCS["n_batch"])]
    if mc:
        args += [Argument("n_samples", "int", _STATE_DOCS["n_samples"]), Argument("rng", "rng", _STATE_DOCS["rng"])]
    outputs = f.get("outputs") or tuple(eq.lhs for eq in reversed(update))
    assignments = tuple(Assignment(eq.lhs, eq.rhs, _plain(eq)) for eq in update)
    return Derivation(
        title=title or "Gaussian BLR step", family=key, approximations=approx, steps=tuple(f["steps"]),
        natural_update=tuple(Equation(l, r) for l, r in f["natural"]), update=tuple(update),
        anchor=anchor or "blr", function_name=function_name,
        summary=f"One BLR step: {title or 'Gaussian BLR'}.",
        arguments=tuple(args), oracles=tuple(oracles), assignments=assignments, outputs=outputs,
        dims=tuple(f["dims"].items()), elementwise=elementwise,
        extra={"terms": f["terms"], "loss": f["loss"]},
    )


def _names(expr) -> set[str]:
    out = {s.name for s in expr.free_symbols if hasattr(s, "name")}
    out |= {s.name for s in expr.atoms(MatrixSymbol)}
    return out


def _data_docs(f):
    loss = f["loss"]
    out = list(loss.data) if isinstance(loss, ExpressionLoss) else []
    return list(f.get("prior_data", ())) + out


def _code_name(sym) -> str:
    from .printing import CODE_NAMES

    return CODE_NAMES.get(sym.name, sym.name)


def _plain(eq: Equation) -> str:
    from .printing import latex

    return f"{latex(eq.lhs)} = {latex(eq.rhs)}"


#: expectations under q_t that no approximation removed: the emitted step estimates them by Monte Carlo
_EXPECTED = {"E_g", "E_H", "E_h", "E_g_batch", "E_h_gn", "E_h_gn_batch"}


def _monte_carlo(elementwise: bool, need_g: bool, need_h: set, free: set = frozenset()) -> list[str]:
    """Oracle lines estimating E_q[∇ℓ], E_q[∇²ℓ] (and minibatch or Gauss-Newton terms) from
    ``n_samples`` draws θ ~ q_t."""
    if elementwise:
        lines = ["# θ_k = m + ε_k / √s, ε_k ~ N(0, I), k = 1..n_samples",
                 "eps = rng.standard_normal((n_samples,) + np.shape(m))",
                 "theta = m + eps / np.sqrt(s)"]
    else:
        lines = ["# θ_k = m + L^{-T} ε_k with S = L Lᵀ, ε_k ~ N(0, I), k = 1..n_samples",
                 "L = np.linalg.cholesky(S)",
                 "eps = rng.standard_normal((n_samples,) + np.shape(m))",
                 "theta = m + np.linalg.solve(np.swapaxes(L, -1, -2), eps[..., None])[..., 0]"]
    gn_lines, from_terms = _gauss_newton(free, "E_")
    if need_g and "E_g" not in from_terms:
        lines.append("E_g = np.mean(grad(theta), axis=0)")
    for name in sorted(need_h):
        lines.append(f"{name} = np.mean({'hess_diag' if elementwise else 'hess'}(theta), axis=0)")
    lines += gn_lines
    if "E_g_batch" in free and "E_g_batch" not in from_terms:
        lines.append("E_g_batch = np.mean(grad_batch(theta), axis=0)")
    return lines


def _gauss_newton(free: set, prefix: str) -> tuple[list[str], set]:
    """Oracle lines for the Gauss-Newton sums Σ_i ∇ℓ_i² (names ``h_gn``, ``h_gn_batch``) and the gradient
    Σ_i ∇ℓ_i at the same level, both from one call of ``grad_terms``: at the mean (``prefix=""``) or
    averaged over Monte-Carlo samples θ_k (``prefix="E_"``).  Returns the lines and the names they set."""
    gn = {prefix + "h_gn", prefix + "h_gn_batch"} & free
    if not gn:
        return [], set()
    grad = prefix + ("g_batch" if prefix + "h_gn_batch" in gn else "g")
    at, shape = ("theta", "(n_samples, ..., M, D)") if prefix else ("m", "(..., M, D)")
    mean = (lambda e: f"np.mean({e}, axis=0)") if prefix else (lambda e: e)
    lines = [f"# ∇ℓ_i({'θ_k' if prefix else 'm'}) for each i of the sum, stacked on axis -2: {shape}",
             f"grads = grad_terms({at})"]
    sets = set(gn)
    if grad in free:
        lines.append(f"{grad} = {mean('np.sum(grads, axis=-2)')}")
        sets.add(grad)
    lines += [f"{name} = {mean('np.sum(grads**2, axis=-2)')}" for name in sorted(gn)]
    return lines, sets
