r"""Losses and priors a derivation starts from.

A loss is either a SymPy expression in θ (the BLR's expectations are then computed
exactly where the loss allows it) or a generic differentiable loss known only through
oracles :math:`g(\theta) = \nabla\ell(\theta)` and :math:`H(\theta) = \nabla^2\ell(\theta)`.
Priors :math:`p_0` are given in the candidate's family, by their natural parameters
:math:`\lambda_0` (Khan & Rue 2023, Sec. 1.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import sympy as sp
from sympy import Identity, Inverse, MatrixSymbol, ZeroMatrix

from blrkit._validation import BINARY_LABELS

from . import ir
from .errors import DerivationError
from .symbols import D, ETA, N, O, Y_OBS, Display  # noqa: F401 (D, N, O, Display: imported from here too)

#: the labels of a binary GLM loss (logistic, probit): {0, 1}, the same in derive, algorithms and duality
BINARY = (0, 1)



@dataclass(frozen=True)
class OracleLoss:
    r"""A differentiable loss known through oracles: ``grad`` :math:`= \nabla\ell`, ``hess`` :math:`= \nabla^2\ell`.

    Examples: logistic regression, a neural network.  With ``hessian="diagonal"`` the
    oracle returns :math:`\mathrm{diag}\,\nabla^2\ell` (mean-field candidates).
    """

    name: str = "generic differentiable loss"
    hessian: str = "full"


@dataclass(frozen=True)
class ExpressionLoss:
    r"""A loss written as a SymPy expression in θ (a matrix expression for Gaussians).

    ``theta`` is the symbol the expression is written in; ``data`` names the arguments
    the emitted code takes for it, in order, each ``(symbol, doc)``.
    """

    name: str
    expr: sp.Basic
    theta: sp.Basic
    data: tuple = ()
    dims: tuple = ()
    #: what the loss is, for naming the algorithm it gives: "quadratic" (linear regression) or "linear-gaussian"
    #: (a measurement; adds the Woodbury step to the Kalman gain form)
    kind: str = ""
    #: the model the loss comes from, a sentence with LaTeX in ``$…$`` defining its symbols (printed first)
    model: str = ""
    #: ``expr`` in LaTeX as a paper writes it (SymPy expands the transposes of a quadratic form)
    formula: str = ""

    def gradient(self):
        return _derivative(self.expr, self.theta)

    def hessian(self):
        return _derivative(self.gradient(), self.theta)


@lru_cache(maxsize=256)
def _derivative(expr, theta):
    """∂expr/∂θ, once per expression and process: SymPy's matrix calculus costs 0.2-0.5 s a call, and a
    derivation asks a loss for its gradient up to three times (the Hessian differentiates it again)."""
    return sp.diff(expr, theta)


@dataclass(frozen=True)
class GaussianPrior:
    r"""A Gaussian prior :math:`p_0 = \mathcal{N}(m_0, S_0^{-1})`, i.e. :math:`\lambda_0 = (S_0 m_0, -\tfrac12 S_0)`."""

    mean: sp.Basic
    precision: sp.Basic
    description: str = ""
    data: tuple = field(default=())
    #: the scalar α of an isotropic prior N(0, α⁻¹I) (also valid for mean-field candidates)
    isotropic: sp.Basic | None = None

    @property
    def natural(self):
        return (self.precision * self.mean, -self.precision / 2)


def isotropic_prior() -> GaussianPrior:
    r"""The prior :math:`p_0 = \mathcal{N}(0, \alpha^{-1} I)`, i.e. :math:`\lambda_0 = (0, -\tfrac{\alpha}{2} I)`
    (``--prior isotropic``); its argument in the emitted code is ``alpha``."""
    alpha = sp.Symbol("alpha", positive=True)
    return GaussianPrior(ZeroMatrix(D, 1), alpha * Identity(D), r"\mathcal{N}(0, \alpha^{-1} I)",
                         data=((alpha, "prior precision α, scalar or (...)"),), isotropic=alpha)


def quadratic_loss() -> tuple[ExpressionLoss, GaussianPrior]:
    r"""Linear regression: :math:`\ell(\theta) = \tfrac{1}{2\sigma^2}\|y - X\theta\|^2`, :math:`p_0 = \mathcal{N}(0, \alpha^{-1} I)`.

    >>> loss, prior = quadratic_loss()
    >>> from blrkit.derive.printing import latex
    >>> latex(loss.hessian())
    '\\frac{1}{\\sigma^2} X^\\top X'
    """
    theta = MatrixSymbol("theta", D, 1)
    X, y = MatrixSymbol("X", N, D), MatrixSymbol("y", N, 1)
    s2, alpha = sp.Symbol("noise_variance", positive=True), sp.Symbol("alpha", positive=True)
    r = y - X * theta
    loss = ExpressionLoss(
        "squared error", (r.T * r) / (2 * s2), theta,
        data=((X, "design matrix, (..., N, D)"), (y, "targets, (..., N)"),
              (alpha, "prior precision α (ridge penalty), scalar or (...)"),
              (s2, "noise variance σ², scalar or (...)")),
        dims=((D, "X.shape[-1]"),), kind="quadratic",
        model=r"targets $y = X\theta + \varepsilon$ with noise $\varepsilon \sim \mathcal{N}(0, \sigma^2 I)$ and "
              r"design matrix $X$: $\ell(\theta) = -\log p(y \mid \theta)$ up to a constant",
        formula=r"\frac{1}{2 \sigma^2}\left(y - X\theta\right)^\top\left(y - X\theta\right)",
    )
    return loss, GaussianPrior(ZeroMatrix(D, 1), alpha * Identity(D), r"\mathcal{N}(0, \alpha^{-1} I)")


def linear_gaussian_loss() -> tuple[ExpressionLoss, GaussianPrior]:
    r"""Kalman measurement: :math:`\ell(\theta) = \tfrac12 (y - d - H\theta)^\top R^{-1} (y - d - H\theta)`.

    The prior :math:`p_0 = \mathcal{N}(\bar m, \bar P)` is the predicted state; its precision is
    :math:`\bar P^{-1}`.  The observation offset :math:`d` (pykalman's ``observation_offsets``)
    enters the residual, so the derived update carries it.
    """
    theta = MatrixSymbol("theta", D, 1)
    H, R, y = MatrixSymbol("obs_matrix", O, D), MatrixSymbol("R", O, O), MatrixSymbol("y", O, 1)
    d = MatrixSymbol("d", O, 1)
    m_pred, P_pred = MatrixSymbol("m_pred", D, 1), MatrixSymbol("P_pred", D, D)
    r = y - d - H * theta
    loss = ExpressionLoss(
        "linear-Gaussian observation", (r.T * Inverse(R) * r) / 2, theta,
        data=((y, "observation, (..., O)"), (H, "observation matrix, (..., O, D)"),
              (R, "observation-noise covariance, (..., O, O)"),
              (d, "observation offset, (..., O); 0 for none")),
        dims=((D, "m_pred.shape[-1]"), (O, "y.shape[-1]")), kind="linear-gaussian",
        model=r"measurement model $y = H\theta + d + \varepsilon$: observation $y$, observation matrix $H$, "
              r"offset $d$, noise $\varepsilon \sim \mathcal{N}(0, R)$; $\ell(\theta) = -\log p(y \mid \theta)$ "
              r"up to a constant",
        formula=r"\frac{1}{2}\left(y - d - H\theta\right)^\top R^{-1}\left(y - d - H\theta\right)",
    )
    prior = GaussianPrior(m_pred, Inverse(P_pred), r"\mathcal{N}(\bar m, \bar P)",
                          data=((m_pred, "predicted mean, (..., D)"),
                                (P_pred, "predicted covariance, (..., D, D)")))
    return loss, prior


# -- derived losses: the derivatives come out of SymPy, the emitted code evaluates them ------------

def _not_differentiable(expr, what: str):
    """Raise if ``expr`` holds a term that is not differentiable (|θ|, sign, max, a step)."""

    bad = expr.atoms(sp.DiracDelta, sp.Heaviside, sp.sign, sp.Abs, sp.Max, sp.Min, sp.Derivative, sp.Subs)
    if bad:
        term = sorted(map(str, bad))[0]
        raise DerivationError(f"the loss is not twice differentiable: {what} contains {term}; a BLR step "
                              "with the delta method needs ∇ℓ and ∇²ℓ (smooth the loss, or give an OracleLoss)")


@dataclass(frozen=True)
class GLMLoss:
    r"""A generalised-linear loss :math:`\ell(\theta) = \sum_{i=1}^N f(x_i^\top\theta, y_i)`.

    Given by the per-example loss ``f`` in the symbols ``eta`` (:math:`\eta = x^\top\theta`) and
    ``y``; SymPy derives :math:`f' = \partial f/\partial\eta` and :math:`f''`, so that

    .. math::

        \nabla\ell(\theta) = X^\top f'(X\theta, y), \qquad
        \nabla^2\ell(\theta) = X^\top \mathrm{diag}\big(f''(X\theta, y)\big) X,

    and the emitted step evaluates them on the data ``X`` (..., N, D), ``y`` (..., N).
    :math:`\log(1 + e^u)` is rewritten in a stable form (:mod:`blrkit.derive.functions`).

    Binary labels are :math:`y \in \{0, 1\}` (scikit-learn's, and :mod:`blrkit.duality`'s): the logistic
    loss is :math:`f = \log(1 + e^\eta) - y\eta`, whose :math:`f'' = \sigma(\eta)\sigma(-\eta)` has no y at all,
    and the probit :math:`f = -\log\Phi((2y - 1)\eta)`.

    >>> loss = glm_loss("logistic")
    >>> loss.f1, loss.f2
    (-y + expit(eta), expit(-eta)*expit(eta))
    """

    f: sp.Basic
    name: str = "GLM loss"
    #: the values y may take: ``(0, 1)`` for a binary loss (logistic, probit: the one convention of blrkit,
    #: checked by the emitted step), empty for any real y
    labels: tuple = ()

    def __post_init__(self):
        from .functions import stable

        if tuple(self.labels) not in ((), BINARY):
            raise ValueError(f"labels must be () (any real y) or {BINARY} (binary labels), got {self.labels!r}: "
                             f"{BINARY_LABELS}")
        object.__setattr__(self, "labels", tuple(self.labels))
        f = stable(sp.sympify(self.f))
        stray = f.free_symbols - {ETA, Y_OBS}
        if stray:
            names = ", ".join(sorted(map(str, stray)))
            raise DerivationError(f"a GLM loss f(eta, y) may use only eta and y, not {names}")
        if not f.has(ETA):
            raise DerivationError("a GLM loss f(eta, y) must depend on eta = xᵀθ")
        object.__setattr__(self, "f", f)
        _not_differentiable(self.f2, f"f''(eta, y) = {self.f2}")

    @property
    def f1(self):
        return sp.diff(self.f, ETA)

    @property
    def f2(self):
        return sp.diff(self.f, ETA, 2)

    def label_check(self) -> list:
        """The IR node that refuses a label ``y`` outside the loss's convention (none when any real ``y`` is
        allowed): a label outside it gives a wrong step without a word.

        >>> glm_loss("logistic").label_check()[0].array
        'y'
        """
        if not self.labels:
            return []
        return [ir.LabelCheck("y", self.name.split(" (")[0], BINARY_LABELS)]

    @property
    def data(self):
        X, y = MatrixSymbol("X", N, D), MatrixSymbol("y", N, 1)
        targets = "labels y_i in {0, 1}, (..., N)" if self.labels else "targets y_i, (..., N)"
        return ((X, "design matrix, rows x_i, (..., N, D)"), (y, targets))

    dims = ((D, "X.shape[-1]"),)

    def steps(self, m):
        """The derivative equations shown in a derivation."""
        fp, fpp = Display("f_1", r"f'(\eta, y)", "f'(η, y)"), Display("f_2", r"f''(\eta, y)", "f''(η, y)")
        return [
            (Display("f_0", r"f(\eta, y)", "f(η, y)"), self.f), (fp, self.f1), (fpp, self.f2),
            (Display("grad_glm", r"\nabla\ell(\theta)", "∇ℓ(θ)"),
             Display("Xf1", r"X^\top f'(X\theta, y)", "Xᵀ f'(Xθ, y)")),
            (Display("hess_glm", r"\nabla^2\ell(\theta)", "∇²ℓ(θ)"),
             Display("XDX", r"X^\top \mathrm{diag}\,f''(X\theta, y)\, X", "Xᵀ diag f''(Xθ, y) X")),
        ]

    def code(self, at: str, targets: dict, elementwise: bool) -> list:
        """IR nodes that evaluate the quantities ``targets`` (``g``, ``H``, ``h``, ``h_gn`` → a
        ``(name, average)`` pair) at the point ``at`` (``m``, or Monte-Carlo samples ``theta``, averaged)."""
        lines = [ir.Comment(f"η_i = x_iᵀ{'θ_k' if at == 'theta' else 'm'}, and f', f'' of the loss at each η_i"),
                 ir.LinearPredictor("eta", "X", at)]
        if {"g", "h_gn"} & set(targets):
            lines.append(ir.Let("d1", self.f1.subs(Y_OBS, sp.Symbol("y")), like="eta"))
        if {"H", "h"} & set(targets):
            lines.append(ir.Let("d2", self.f2.subs(Y_OBS, sp.Symbol("y")), like="eta"))
        for q in ("g", "H", "h", "h_gn"):
            if q in targets:
                name, average = targets[q]
                lines.append(ir.GlmSum(name, *_GLM_SUMS[q], average=average))
        return lines


    def quadrature_code(self, targets: dict, elementwise: bool) -> list:
        """IR nodes that evaluate ``targets`` under q_t by 100-node Gauss–Hermite quadrature on each predictive
        η_i ~ N(x_iᵀm, x_iᵀS⁻¹x_i) (:class:`~blrkit.derive.approximations.GaussHermite`)."""
        at_nodes = {Y_OBS: sp.Symbol("y_nodes")}
        lines = [ir.Comment("η_i ~ N(x_iᵀm, x_iᵀS⁻¹x_i) under q_t: 100-node Gauss–Hermite quadrature on each"),
                 ir.Quadrature(100, "s" if elementwise else "S", diagonal=elementwise)]
        if {"g", "h_gn"} & set(targets):
            lines.append(ir.QuadratureSum("d1", self.f1.subs(at_nodes)))
        if {"H", "h"} & set(targets):
            lines.append(ir.QuadratureSum("d2", self.f2.subs(at_nodes)))
        for q in ("g", "H", "h"):
            if q in targets:
                lines.append(ir.GlmSum(targets[q][0], *_GLM_SUMS[q]))
        return lines


#: a GLM's gradient, Hessian, its diagonal and the Gauss–Newton sum from d1 = f'(η), d2 = f''(η) per example:
#: the kind of sum (:class:`~blrkit.derive.ir.GlmSum`) and its per-example weight
_GLM_SUMS = {"g": ("gradient", "d1"), "H": ("hessian", "d2"), "h": ("hessian_diagonal", "d2"),
             "h_gn": ("gauss_newton", "d1")}


#: named per-example losses f(η, y) (``--glm NAME`` on the command line, or any expression); the binary ones
#: take labels y ∈ {0, 1}
GLM_LOSSES = {
    "logistic": (lambda: GLMLoss(sp.log(1 + sp.exp(ETA)) - Y_OBS * ETA, "logistic (y in {0, 1})", BINARY)),
    "poisson": (lambda: GLMLoss(sp.exp(ETA) - Y_OBS * ETA, "Poisson, log link")),
    "probit": None,  # filled below: needs log Φ
    "squared": (lambda: GLMLoss((Y_OBS - ETA) ** 2 / 2, "squared error")),
}


def _probit():
    from .functions import log_ndtr

    return GLMLoss(-log_ndtr((2 * Y_OBS - 1) * ETA), "probit (y in {0, 1})", BINARY)


GLM_LOSSES["probit"] = _probit


def glm_loss(f) -> GLMLoss:
    """A :class:`GLMLoss` from a name in :data:`GLM_LOSSES` or an expression in ``eta`` and ``y``."""
    if isinstance(f, GLMLoss):
        return f
    if isinstance(f, str) and f in GLM_LOSSES:
        return GLM_LOSSES[f]()
    if isinstance(f, str):
        from .parsing import parse_expression

        return GLMLoss(parse_expression(f, {"eta": ETA, "y": Y_OBS}, what="--glm"), f"f(eta, y) = {f}")
    if not isinstance(f, sp.Expr):
        raise TypeError(f"f must be a GLMLoss, a name in {sorted(GLM_LOSSES)}, or an expression in eta and y "
                        f"(a str or a SymPy expression), got {type(f).__name__}")
    return GLMLoss(f, f"f(eta, y) = {f}")


@dataclass(frozen=True)
class ComponentLoss:
    r"""A loss written in the components of θ (``theta_1``, …, ``theta_D``; ``theta`` when D = 1).

    SymPy derives :math:`\nabla\ell` and :math:`\nabla^2\ell` entry by entry; the emitted step
    evaluates them.  Without the delta method, a polynomial loss has exact Gaussian expectations
    :math:`\mathbb{E}_q[\nabla\ell]`, :math:`\mathbb{E}_q[\nabla^2\ell]` (moments of
    :math:`\mathcal{N}(m, \Sigma)`, :func:`gaussian_expectation`); any other is estimated by
    Monte Carlo in the emitted code.

    >>> t1, t2 = sp.symbols("theta_1 theta_2", real=True)
    >>> ComponentLoss((1 - t1)**2 + 100*(t2 - t1**2)**2, (t1, t2)).hessian[0, 1]
    -400*theta_1
    """

    expr: sp.Basic
    theta: tuple
    name: str = "loss in the components of θ"

    def __post_init__(self):
        _not_differentiable(self.hessian, "its Hessian")

    @property
    def dim(self) -> int:
        return len(self.theta)

    @cached_property
    def gradient(self):
        """∇ℓ, computed once (each entry and the Hessian are read many times while deriving)."""
        return sp.ImmutableMatrix([sp.diff(self.expr, t) for t in self.theta])

    @cached_property
    def hessian(self):
        """∇²ℓ, computed once from the gradient: D² derivatives, not D² Hessians (which cost D⁴)."""
        g = self.gradient
        return sp.ImmutableMatrix(len(self.theta), len(self.theta),
                                  lambda i, j: sp.diff(g[i], self.theta[j]) if j >= i else sp.diff(g[j], self.theta[i]))

    data = ()
    dims = ()

    @property
    def is_polynomial(self) -> bool:
        return self.expr.is_polynomial(*self.theta)

    def steps(self, m):
        th = r"\theta" if self.dim == 1 else None
        out = [(Display("loss_expr", r"\ell(\theta)"), self.expr)]
        for i, gi in enumerate(self.gradient):
            name = th or rf"\theta_{i + 1}"
            out.append((Display(f"dl_{i}", rf"\partial\ell/\partial {name}"), gi))
        for i in range(self.dim):
            for j in range(i, self.dim):
                a, b = th or rf"\theta_{i + 1}", th or rf"\theta_{j + 1}"
                tex = rf"\partial^2\ell/\partial {a}^2" if i == j else rf"\partial^2\ell/\partial {a}\partial {b}"
                out.append((Display(f"d2l_{i}{j}", tex), self.hessian[i, j]))
        return out

    def _names(self):
        return [sp.Symbol(f"theta_{i + 1}", real=True) for i in range(self.dim)]

    def code(self, at: str, targets: dict, elementwise: bool) -> list:
        """IR nodes evaluating ``g`` (gradient), ``H`` or ``h`` (Hessian, its diagonal) at ``at`` (a
        ``(name, average)`` pair each)."""
        if "h_gn" in targets:
        
            raise DerivationError("the Gauss-Newton approximation needs a loss that is a sum of per-example "
                                  "terms (a GLM loss or an oracle), not a loss in the components of θ")
        names = self._names()
        rename = dict(zip(self.theta, names))
        lines = [ir.Comment(f"θ = ({', '.join(n.name for n in names)}) at "
                            f"{'each sample θ_k' if at == 'theta' else 'm'}"),
                 ir.Components(tuple(n.name for n in names), at, tuple(range(self.dim))), ir.Zeros("zero", at)]
        forms = _stacked(lambda i: self.gradient[i].xreplace(rename),
                         lambda i, j: self.hessian[i, j].xreplace(rename), self.dim)
        for q in ("g", "H", "h"):
            if q in targets:
                name, average = targets[q]
                lines.append(ir.Stack(name, forms[q], average=average))
        return lines

    def exact_code(self, targets: dict, elementwise: bool, fixed: bool = False) -> tuple[list, list]:
        r"""IR nodes computing :math:`\mathbb{E}_q[\nabla\ell]` and :math:`\mathbb{E}_q[\nabla^2\ell]` (or its
        diagonal) in closed form for a polynomial loss, with the equations shown in the derivation
        (``fixed``: the covariance is held at I)."""
        D_ = self.dim
        ms = [sp.Symbol(f"m_{i + 1}", real=True) for i in range(D_)]
        if fixed:
            cov = {(i, j): sp.S.One if i == j else sp.S.Zero for i in range(D_) for j in range(D_)}
        elif elementwise:
            cov = {(i, j): (1 / sp.Symbol(f"s_{i + 1}", positive=True) if i == j else sp.S.Zero)
                   for i in range(D_) for j in range(D_)}
        else:
            cov = {(i, j): sp.Symbol(f"Sigma_{min(i, j) + 1}_{max(i, j) + 1}", real=True)
                   for i in range(D_) for j in range(D_)}
        E = lambda e: gaussian_expectation(e, self.theta, ms, cov)  # noqa: E731
        Eg = [E(e) for e in self.gradient]
        EH = {(i, j): E(self.hessian[i, j]) for i in range(D_) for j in range(D_)}
        moments = ("Σ = I (the covariance is held)" if fixed else "1/s_i" if elementwise else "Σ = S⁻¹ (by a solve)")
        lines = [ir.Comment("exact Gaussian moments: m_i, and " + moments),
                 ir.Components(tuple(m.name for m in ms), "m", tuple(range(D_))), ir.Zeros("zero", "m")]
        if elementwise and not fixed:
            lines.append(ir.Components(tuple(f"s_{i + 1}" for i in range(D_)), "s", tuple(range(D_))))
        elif not fixed:
            lines.append(ir.Inverse("Sigma", "S"))
            lines += [ir.Components((f"Sigma_{i + 1}_{j + 1}",), "Sigma", ((i, j),))
                      for i in range(D_) for j in range(i, D_)]
        forms = _stacked(lambda i: Eg[i], lambda i, j: EH[i, j], D_)
        eqs = []
        for i, e in enumerate(Eg):
            eqs.append((Display(f"Eg_{i}", rf"\mathbb{{E}}_{{q_t}}[\partial_{i + 1}\ell]"), e))
        for (i, j), e in EH.items():
            if i <= j and (not elementwise or i == j):
                eqs.append((Display(f"EH_{i}{j}", rf"\mathbb{{E}}_{{q_t}}[\partial_{i + 1}\partial_{j + 1}\ell]"), e))
        for q in ("g", "H", "h"):
            if q in targets:
                name, average = targets[q]
                lines.append(ir.Stack(name, forms[q], average=average))
        return lines, eqs


def _stacked(gradient, hessian, dim: int) -> dict:
    """The entries of ``g`` (a vector), ``h`` (the Hessian's diagonal) and ``H`` (rows) to stack, from the
    functions ``gradient(i)`` and ``hessian(i, j)``."""
    return {"g": tuple(gradient(i) for i in range(dim)), "h": tuple(hessian(i, i) for i in range(dim)),
            "H": tuple(tuple(hessian(i, j) for j in range(dim)) for i in range(dim))}


def gaussian_expectation(p, theta, m, cov):
    r""":math:`\mathbb{E}[p(\theta)]` for :math:`\theta \sim \mathcal{N}(m, \Sigma)` and a polynomial ``p``.

    The heat-equation identity :math:`\mathbb{E}[p(\theta)] = \big(e^{\frac12\nabla^\top\Sigma\nabla}p\big)(m)`:
    the series ends after :math:`\deg p / 2` terms.  ``cov[(i, j)]`` holds :math:`\Sigma_{ij}`.

    >>> t, mm, v = sp.symbols("theta m v", real=True)
    >>> sp.expand(gaussian_expectation(t**4, (t,), (mm,), {(0, 0): v}))
    m**4 + 6*m**2*v + 3*v**2
    """
    term, total, n = sp.expand(p), sp.S.Zero, 0
    while term != 0:
        total += term / sp.factorial(n)
        n += 1
        term = sp.expand(sum(cov[(i, j)] * sp.diff(term, ti, tj) for i, ti in enumerate(theta)
                             for j, tj in enumerate(theta)) / 2)
    return sp.expand(total.xreplace(dict(zip(theta, m))))
