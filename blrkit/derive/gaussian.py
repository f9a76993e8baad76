r"""The BLR for Gaussian candidates, derived step by step (Khan & Rue 2023, Sec. 1.3).

For :math:`q = \mathcal{N}(m, S^{-1})`, :math:`T(\theta) = (\theta, \theta\theta^\top)`,
:math:`\lambda = (Sm, -\tfrac12 S)` and :math:`\mu = (m, S^{-1} + mm^\top)`.  Bonnet's and
Price's theorems give the natural gradient

.. math::

    \nabla_{\mu_1}\mathbb{E}_q[\ell] = \mathbb{E}_q[\nabla\ell] - \mathbb{E}_q[\nabla^2\ell]\, m,
    \qquad \nabla_{\mu_2}\mathbb{E}_q[\ell] = \tfrac12\mathbb{E}_q[\nabla^2\ell],

and the BLR, solved for the standard parameters, becomes

.. math::

    S_{t+1} = (1-\rho) S_t + \rho\,\mathbb{E}_{q_t}[\nabla^2\bar\ell], \qquad
    m_{t+1} = m_t - \rho S_{t+1}^{-1}\mathbb{E}_{q_t}[\nabla\bar\ell].

The derivation is carried out in general dimension with SymPy matrix symbols (scalars
for the mean-field family, whose updates are elementwise), and every claimed equality
is checked by SymPy as it is made.
"""

from __future__ import annotations

import sympy as sp
from sympy import Identity, Inverse, MatrixExpr, MatrixSymbol, Transpose

from .approximations import Approximation, DeltaMethod, FixedCovariance, StochasticGradient, UnitStep
from .derivation import Equation, Step
from .losses import D, ExpressionLoss, GaussianPrior, OracleLoss

RHO = sp.Symbol("rho", positive=True)
#: names of the scalar symbols of elementwise updates (all others are arrays)
_SCALARS = {"rho", "n_data", "n_batch"}


class DerivationError(ValueError):
    """A family, loss and approximations that do not make sense together."""


def _expand(e):
    """Expand, then collect each matrix term's scalar coefficient and factor it (elementwise
    updates: the coefficient of each array symbol, ρ and the counts N, M being scalars)."""
    if not isinstance(e, MatrixExpr):
        e = sp.expand(e)
        arrays = sorted((x for x in e.free_symbols if x.name not in _SCALARS), key=lambda x: x.name)
        return sp.collect(e, arrays, func=sp.factor) if arrays else e
    e = sp.expand(e).doit()
    if not isinstance(e, sp.MatAdd):
        return e
    coeffs: dict = {}
    for term in e.args:
        c, mats = term.as_coeff_matrices() if isinstance(term, sp.MatMul) else (sp.S.One, [term])
        coeffs[tuple(mats)] = coeffs.get(tuple(mats), sp.S.Zero) + c
    terms = [sp.MatMul(sp.factor(c), *k) if c != 1 else sp.MatMul(*k) for k, c in coeffs.items() if c != 0]
    return sp.MatAdd(*terms) if len(terms) > 1 else terms[0]


def _is_zero(e) -> bool:
    e = _expand(e)
    if isinstance(e, MatrixExpr):
        return e.is_ZeroMatrix or e == sp.ZeroMatrix(*e.shape) or sp.simplify(e) == sp.ZeroMatrix(*e.shape)
    return sp.simplify(e) == 0


def _symmetric(e, names: set[str]):
    """Use the symmetry of the named matrices: ``Aᵀ → A``, ``(A⁻¹)ᵀ → A⁻¹``."""
    def fix(x):
        if isinstance(x, Transpose):
            a = x.arg
            if isinstance(a, MatrixSymbol) and a.name in names:
                return a
            if isinstance(a, Inverse) and isinstance(a.arg, MatrixSymbol) and a.arg.name in names:
                return a
        return x
    return e.replace(lambda x: isinstance(x, Transpose), fix)


class _Builder:
    """Collects steps while rewriting the update λ ← …; one builder per derivation."""

    def __init__(self, elementwise: bool):
        self.elementwise = elementwise
        self.steps: list[Step] = []
        self.terms: dict[str, sp.Basic] = {"rho": RHO, "n_data": sp.Symbol("n_data", integer=True, positive=True),
                                           "n_batch": sp.Symbol("n_batch", integer=True, positive=True)}

    def vec(self, name):
        return sp.Symbol(name, real=True) if self.elementwise else MatrixSymbol(name, D, 1)

    def mat(self, name):
        return sp.Symbol(name, positive=True) if self.elementwise else MatrixSymbol(name, D, D)

    def inv(self, x):
        return 1 / x if self.elementwise else Inverse(x)

    def eye(self):
        return sp.Integer(1) if self.elementwise else Identity(D)

    def step(self, label, equations, justification, anchor, approximate=False):
        eqs = tuple(Equation(lhs, rhs, approximate) for lhs, rhs in equations)
        self.steps.append(Step(label, eqs, justification, anchor))


def derive_gaussian(kind: str, loss, prior: GaussianPrior | None,
                    approximations: tuple[Approximation, ...]) -> dict:
    """Derive the Gaussian BLR update; returns the fields of a :class:`Derivation`.

    ``kind`` is ``"full"``, ``"diagonal"`` or ``"fixed"`` (fixed covariance :math:`I`).
    """
    if any(isinstance(a, FixedCovariance) for a in approximations):
        kind = "fixed"
    if kind == "fixed":
        return _derive_fixed(loss, prior, approximations)
    b = _Builder(elementwise=(kind == "diagonal"))
    m, S = b.vec("m"), b.mat("s" if b.elementwise else "S")
    lam1, lam2 = b.vec("lam_1"), b.mat("lam_2")
    lam1n, lam2n = b.vec("lam_1_new"), b.mat("lam_2_new")
    d1, d2 = b.vec("dmu_1_loss"), b.mat("dmu_2_loss")
    E_g, E_H = b.vec("E_g"), b.mat("E_h" if b.elementwise else "E_H")
    S_new, m_new = b.mat("s_new" if b.elementwise else "S_new"), b.vec("m_new")
    b.terms.update(E_g=E_g, **({"E_h": E_H} if b.elementwise else {"E_H": E_H}))
    mmT = m**2 if b.elementwise else m * m.T
    cov, stat = (("\\mathrm{diag}(s_t)^{-1}", "\\theta^2") if b.elementwise
                 else ("S_t^{-1}", "\\theta\\theta^\\top"))
    b.step("Candidate posterior",
           [(lam1, S * m), (lam2, -S / 2), (b.vec("mu_1"), m), (b.mat("mu_2"), b.inv(S) + mmT)],
           f"$q_t = \\mathcal{{N}}(m_t, {cov})$, $T(\\theta) = (\\theta, {stat})$"
           + (" elementwise" if b.elementwise else "") + ", constant base measure", "blr")

    # -- the BLR in natural parameters --------------------------------------------------
    if prior is None:
        nat1 = (1 - RHO) * lam1 - RHO * d1
        nat2 = (1 - RHO) * lam2 - RHO * d2
        why = "the BLR with a constant base measure; no prior, so $\\bar\\ell = \\ell$"
    else:
        p1, p2 = prior.natural
        if b.elementwise:
            raise DerivationError("priors are supported for full-covariance Gaussians only")
        nat1 = (1 - RHO) * lam1 + RHO * (b.vec("lam_0_1") - d1)
        nat2 = (1 - RHO) * lam2 + RHO * (b.mat("lam_0_2") - d2)
        why = "the BLR with the prior in the family: $\\bar\\ell = \\ell - \\log p_0$"
    b.step("Bayesian learning rule", [(lam1n, nat1), (lam2n, nat2)], why, "blr-conjugate-form")
    if prior is not None:
        b.step("Prior", [(b.vec("lam_0_1"), p1), (b.mat("lam_0_2"), p2)],
               f"$p_0 = {prior.description}$ in natural parameters", "blr")
        nat1 = nat1.subs({b.vec("lam_0_1"): p1})
        nat2 = nat2.subs({b.mat("lam_0_2"): p2})

    # -- natural gradients by Bonnet's and Price's theorems ----------------------------
    grad1, grad2 = E_g - E_H * m, E_H / 2
    b.step("Natural gradient", [(d1, grad1), (d2, grad2)],
           "Bonnet's and Price's theorems with the chain rule through $\\mu$", "bonnet-price")
    nat1 = _expand(nat1.subs({d1: grad1, lam1: S * m, lam2: -S / 2}))
    nat2 = _expand(nat2.subs({d2: grad2, lam2: -S / 2}))
    b.step("Substitute", [(lam1n, nat1), (lam2n, nat2)],
           "the natural gradient and $\\lambda_t = (S_t m_t, -\\tfrac12 S_t)$ inside the BLR", "bonnet-price")

    # -- expectations: exact for a quadratic loss, else approximated -------------------
    dims = {D: "m.shape[-1]"}
    if isinstance(loss, ExpressionLoss):
        if b.elementwise:
            raise DerivationError("expression losses need a full-covariance Gaussian")
        sym = {s.name for s, _ in loss.data if isinstance(s, MatrixSymbol) and s.shape[0] == s.shape[1]}
        sym |= {"P_pred"}
        not_quadratic = DerivationError(
            f"the loss {loss.name!r} is not quadratic in θ; give it as an OracleLoss "
            "with gradient and Hessian oracles and choose an approximation")
        try:
            g = _expand(_symmetric(loss.gradient(), sym))
            H = _expand(_symmetric(loss.hessian(), sym))
        except (AttributeError, NotImplementedError, TypeError):  # SymPy's matrix calculus gave up
            raise not_quadratic from None
        if H.has(loss.theta):
            raise not_quadratic
        g_m = _expand(g.subs(loss.theta, m))
        b.step("Expectations", [(E_g, g_m), (E_H, H)],
               "$\\ell$ is quadratic: $\\nabla\\ell$ is affine in $\\theta$ and $\\nabla^2\\ell$ is constant, "
               "so the expectations are exact at $m_t$", "conjugate")
        nat1, nat2 = _expand(nat1.subs({E_g: g_m, E_H: H})), _expand(nat2.subs({E_H: H}))
        b.step("Substitute", [(lam1n, nat1), (lam2n, nat2)], "the exact expectations", "conjugate")
        dims = dict(loss.dims)
    elif isinstance(loss, OracleLoss):
        if b.elementwise and loss.hessian != "diagonal":
            loss = OracleLoss(loss.name, "diagonal")
        b.terms.update(g=b.vec("g"), g_batch=b.vec("g_batch"), E_g_batch=b.vec("E_g_batch"),
                       **({"h": b.mat("h")} if b.elementwise else {"H": b.mat("H")}))
        if b.elementwise:  # sums of squared per-example gradients (Gauss-Newton), full and minibatch
            b.terms.update({n: b.mat(n) for n in ("h_gn", "h_gn_batch", "E_h_gn", "E_h_gn_batch")})
    else:
        raise DerivationError(f"unknown loss {loss!r}: give an OracleLoss or an ExpressionLoss")

    for a in approximations:
        if isinstance(a, FixedCovariance):
            continue
        if isinstance(a, (DeltaMethod, StochasticGradient)) and isinstance(loss, ExpressionLoss):
            continue  # exact already
        subs = {k: v for k, v in a.substitutions(b.terms).items() if nat1.has(k) or nat2.has(k)}
        if not subs:
            raise DerivationError(f"{a.name} has nothing to rewrite in this derivation")
        nat1, nat2 = _expand(nat1.subs(subs)), _expand(nat2.subs(subs))
        b.step(a.label, [*subs.items(), (lam1n, nat1), (lam2n, nat2)],
               f"${a.statement}$", a.anchor, approximate=not isinstance(a, UnitStep))

    # -- back to the standard parameters ----------------------------------------------
    S_rhs = _expand(-2 * nat2)
    b.step("Standard parameters", [(S_new, S_rhs), (m_new, b.inv(S_new) * nat1)],
           "$S = -2\\lambda_2$ and $m = S^{-1}\\lambda_1$", "blr")
    rho = sp.Integer(1) if any(isinstance(a, UnitStep) for a in approximations) else RHO
    if m not in nat1.free_symbols and not (isinstance(nat1, MatrixExpr) and nat1.has(m)):
        textbook = _expand(b.inv(S_new) * nat1) if b.elementwise else b.inv(S_new) * nat1
        why = "the start $m_t, S_t$ has dropped out: one step gives the exact posterior"
    else:
        grad_bar = _grad_from(nat1, nat2, m, rho)
        textbook = m - rho * b.inv(S_new) * grad_bar
        why = "multiply by $S_{t+1}$: both sides equal $\\lambda_{1,t+1}$"
    # the claim: S_{t+1} · textbook == λ_{1,t+1}
    residual = _expand(S_new * textbook).subs(S_new, S_rhs) - nat1
    if not _is_zero(residual):
        raise AssertionError(f"textbook form does not follow: residual {residual}")
    b.step("Textbook form", [(S_new, S_rhs), (m_new, textbook)], why, "blr")
    update, outputs = ((S_new, S_rhs), (m_new, textbook)), ()
    if isinstance(loss, ExpressionLoss) and loss.kind == "linear-gaussian":
        update = _gain_form(b, loss, prior)
        v, C, K, m_out, P_out = (lhs for lhs, _ in update)
        outputs = (m_out, P_out, K, v, C)
    return dict(outputs=outputs, steps=b.steps, natural=((lam1n, nat1), (lam2n, nat2)),
                update=update, elementwise=b.elementwise, dims=dims, terms=b.terms, loss=loss,
                prior_data=prior.data if prior is not None else ())


def _grad_from(nat1, nat2, m, rho):
    r"""Read :math:`\mathbb{E}[\nabla\bar\ell]` back from :math:`\lambda_{1,t+1}`.

    Since :math:`\lambda_{1,t+1} = S_{t+1} m - \rho\,\hat g`, we have
    :math:`\rho\hat g = S_{t+1}m - \lambda_{1,t+1}` with :math:`S_{t+1} = -2\lambda_{2,t+1}`.
    """
    rho_g = _expand(-2 * nat2 * m - nat1)
    return _expand(rho_g / rho) if rho != 1 else rho_g


def _derive_fixed(loss, prior, approximations) -> dict:
    r"""Gradient descent: :math:`q = \mathcal{N}(m, I)`, :math:`\lambda = \mu = m` (Sec. 1.3)."""
    if prior is not None or not isinstance(loss, OracleLoss):
        raise DerivationError("the fixed-covariance Gaussian takes an OracleLoss and no prior")
    b = _Builder(elementwise=False)
    m, lam, lamn, dmu = b.vec("m"), b.vec("lam_1"), b.vec("lam_1_new"), b.vec("dmu_1_loss")
    E_g, m_new = b.vec("E_g"), b.vec("m_new")
    b.terms.update(E_g=E_g, g=b.vec("g"), g_batch=b.vec("g_batch"), E_g_batch=b.vec("E_g_batch"))
    b.step("Candidate posterior", [(lam, m), (b.vec("mu_1"), m)],
           "$q_t = \\mathcal{N}(m_t, I)$: $T(\\theta) = \\theta$, and the entropy is constant", "fixed-covariance")
    nat = lam - RHO * dmu
    b.step("Bayesian learning rule", [(lamn, nat)],
           "the entropy is constant, so $\\nabla_\\mu\\mathcal{H}(q) = 0$", "blr")
    b.step("Natural gradient", [(dmu, E_g)], "Bonnet's theorem: $\\nabla_m\\mathbb{E}_q[\\ell] = \\mathbb{E}_q[\\nabla\\ell]$",
           "bonnet-price")
    nat = _expand(nat.subs({dmu: E_g, lam: m}))
    for a in approximations:
        if isinstance(a, FixedCovariance):
            continue
        subs = {k: v for k, v in a.substitutions(b.terms).items() if nat.has(k)}
        if not subs:
            raise DerivationError(f"{a.name} has nothing to rewrite in this derivation")
        nat = _expand(nat.subs(subs))
        b.step(a.label, [*subs.items(), (lamn, nat)], f"${a.statement}$", a.anchor,
               approximate=not isinstance(a, UnitStep))
    b.step("Textbook form", [(m_new, nat)], "$m = \\lambda$", "gradient-descent")
    return dict(steps=b.steps, natural=((lamn, nat),), update=((m_new, nat),), elementwise=False,
                dims={D: "m.shape[-1]"}, terms=b.terms, loss=loss)


def _gain_form(b: _Builder, loss: ExpressionLoss, prior: GaussianPrior):
    r"""Information form → gain form of the Kalman measurement update (Woodbury identity).

    With :math:`C = H\bar P H^\top + R` and :math:`K = \bar P H^\top C^{-1}`,
    :math:`(\bar P^{-1} + H^\top R^{-1} H)^{-1} = (I - KH)\bar P` and the mean becomes
    :math:`\bar m + K(y - H\bar m)`; the covariance is emitted in Joseph's form, equal for
    this gain and symmetric positive semi-definite by construction.
    """
    y, H, R, d = (s for s, _ in loss.data)
    m_pred, P_pred = (s for s, _ in prior.data)
    O_ = H.shape[0]
    v, C, K = MatrixSymbol("v", O_, 1), MatrixSymbol("C", O_, O_), MatrixSymbol("K", D, O_)
    P_new, m_new, S_new = MatrixSymbol("P_new", D, D), MatrixSymbol("m_new", D, 1), MatrixSymbol("S_new", D, D)
    I = Identity(D)
    defs = [(v, y - d - H * m_pred), (C, H * P_pred * H.T + R), (K, P_pred * H.T * Inverse(C))]
    b.step("Innovation", defs, "residual $v$, its covariance $C$ and the gain $K$", "kalman")
    b.step("Woodbury identity", [(P_new, Inverse(S_new)), (P_new, (I - K * H) * P_pred), (m_new, m_pred + K * v)],
           "$(\\bar P^{-1} + H^\\top R^{-1}H)^{-1} = \\bar P - \\bar P H^\\top C^{-1} H \\bar P$", "woodbury")
    joseph = (I - K * H) * P_pred * (I - K * H).T + K * R * K.T
    b.step("Joseph form", [(P_new, joseph)],
           "equal for the optimal gain; symmetric and positive definite in floating point", "kalman")
    return (*defs, (m_new, m_pred + K * v), (P_new, joseph))


def laplace_fixed_point(d):
    r"""Add Laplace's fixed point to a damped BLR-Newton derivation (Khan & Rue 2023, Sec. 4.4).

    At a fixed point :math:`m_{t+1} = m_t = m_*` and :math:`S_{t+1} = S_t = S_*`, so
    :math:`\rho(\nabla^2\bar\ell(m_*) - S_*) = 0` and :math:`\rho S_*^{-1}\nabla\bar\ell(m_*) = 0`:
    :math:`m_*` is a stationary point of :math:`\bar\ell` and :math:`S_*` its Hessian there,
    the Laplace approximation.  The claim is checked by substitution.
    """
    from dataclasses import replace

    m, S = MatrixSymbol("m", D, 1), MatrixSymbol("S", D, D)
    g, H = MatrixSymbol("g", D, 1), MatrixSymbol("H", D, D)
    S_rhs, m_rhs = d.update[0].rhs, d.update[1].rhs
    # S* = H(m*) is a fixed point of the precision update ...
    if not _is_zero(S_rhs.subs(S, H) - H):
        raise AssertionError("S = H is not a fixed point of the precision update")
    # ... and ∇ℓ̄(m*) = 0 one of the mean update (whatever S_{t+1})
    if not _is_zero(m_rhs.subs(g, sp.ZeroMatrix(D, 1)) - m):
        raise AssertionError("a stationary point is not a fixed point of the mean update")
    S_s = MatrixSymbol("S_star", D, D)
    g_s, H_s = MatrixSymbol("g_star", D, 1), MatrixSymbol("H_star", D, D)
    step = Step("Fixed point", (Equation(g_s, sp.ZeroMatrix(D, 1)), Equation(S_s, H_s)),
                "at $m_{t+1} = m_t = m_*$, $S_{t+1} = S_t = S_*$: "
                "$m_*$ minimises $\\bar\\ell$ and $S_*$ is its Hessian, the Laplace approximation", "laplace")
    return replace(d, steps=d.steps + (step,))
