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
for the mean-field family, whose updates are elementwise).  Three claims are checked as they
are made, each against what was derived before it: the textbook form against the natural
update (:math:`S_{t+1} m_{t+1} = \lambda_{1,t+1}` with the derived gradient), the Kalman gain
form against the information form (exact rational matrices, D, O ≤ 3), and Laplace's fixed
point.  The other steps are rewrites (substitution, expansion) that SymPy performs exactly.
"""

from __future__ import annotations

import warnings

import sympy as sp
from sympy import Identity, Inverse, MatrixExpr, MatrixSymbol, Transpose

from sympy.utilities.exceptions import SymPyDeprecationWarning

from .algebra import expand_terms as _expand
from .algebra import is_zero as _is_zero
from .approximations import Approximation, DeltaMethod, FixedCovariance, GaussHermite, Stage, StochasticGradient
from .derivation import Equation, Step
from .errors import DerivationError
from .losses import ExpressionLoss, GaussianPrior, OracleLoss
from .roles import Role, Terms
from .symbols import RHO, D

__all__ = ["RHO", "StepBuilder", "derive_gaussian", "improved_rule", "laplace_fixed_point"]


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


class StepBuilder:
    """Collects steps while rewriting the update λ ← …; one builder per derivation."""

    def __init__(self, elementwise: bool, fixed: bool = False):
        self.elementwise = elementwise
        self.fixed = fixed  # q = N(m, I): the covariance is held at the identity
        self.steps: list[Step] = []
        self.terms = Terms({Role.STEP_SIZE: RHO, Role.DATA_COUNT: sp.Symbol("n_data", integer=True, positive=True),
                            Role.BATCH_SIZE: sp.Symbol("n_batch", integer=True, positive=True)})

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


def _derived(loss) -> bool:
    """A loss whose derivatives SymPy derives and the emitted code evaluates (GLM, loss in θ)."""
    from .losses import ComponentLoss, GLMLoss

    return isinstance(loss, (ComponentLoss, GLMLoss))


def _prior_natural(b: "StepBuilder", prior: GaussianPrior):
    """λ₀ of the prior, as matrices, or as scalars for a mean-field candidate (isotropic priors only)."""
    if not b.elementwise:
        return prior.natural
    if prior.isotropic is None:
        raise DerivationError("a mean-field (diagonal) candidate takes an isotropic prior N(0, α⁻¹I) only")
    return sp.S.Zero, -prior.isotropic / 2


def _oracle_terms(b: "StepBuilder"):
    """The symbols of a loss known through its gradient and Hessian (oracles, or derived by SymPy)."""
    b.terms.update({Role.GRADIENT: b.vec("g"), Role.MINIBATCH_GRADIENT: b.vec("g_batch"),
                    Role.EXPECTED_MINIBATCH_GRADIENT: b.vec("E_g_batch"),
                    Role.HESSIAN: b.mat("h" if b.elementwise else "H")})
    if b.elementwise:  # sums of squared per-example gradients (Gauss-Newton), full and minibatch
        b.terms.update({role: b.mat(n) for role, n in (
            (Role.GAUSS_NEWTON_SUM, "h_gn"), (Role.MINIBATCH_GAUSS_NEWTON_SUM, "h_gn_batch"),
            (Role.EXPECTED_GAUSS_NEWTON_SUM, "E_h_gn"), (Role.EXPECTED_MINIBATCH_GAUSS_NEWTON_SUM, "E_h_gn_batch"))})
        b.terms[Role.MEAN_MINIBATCH_GRADIENT] = b.vec("g_mean")  # the mean minibatch gradient (RMSprop, Adam)
        # E_q[∇ℓ(θ) ⊙ (θ − m)], full and minibatch: the expected Hessian from gradients (IVON)
        b.terms.update({Role.GRADIENT_DEVIATION: b.vec("E_g_dev"), Role.MINIBATCH_GRADIENT_DEVIATION: b.vec("E_g_dev_batch")})


def _loss_steps(b: "StepBuilder", loss):
    """Show the derivatives SymPy derived for a GLM or component loss."""
    if _derived(loss):
        why = ("per-example loss $f(\\eta, y)$ with $\\eta_i = x_i^\\top\\theta$, differentiated by SymPy"
               if loss.data else "differentiated by SymPy, entry by entry")
        labels = getattr(loss, "labels", ())
        if labels and all(abs(v) == 1 for v in labels):
            why += "; the labels are $y = \\pm 1$, so $y^2 = 1$"
        b.step("Loss derivatives", loss.steps(None), why, "blr")


def _apply(b, approximations, loss, exprs: dict, skip=()) -> dict:
    """Apply each approximation in order to the named expressions; one printed step each."""
    from .approximations import StepSize

    for a in approximations:
        if isinstance(a, FixedCovariance) or isinstance(a, skip) or a.stage in (Stage.TEXTBOOK, Stage.EXPECTATION):
            continue
        if isinstance(a, StepSize) and a.value != 1:  # the textbook form keeps ρ, (1 - ρ)S_t + ρ(…); its value once
            b.terms[Role.STEP_SIZE_VALUE] = a.value
            b.step(a.label, [(b.terms[Role.STEP_SIZE], a.value)],
                   "the update keeps $\\rho$ in its textbook form, $\\rho$ set to this value", a.anchor)
            continue
        subs = {k: v for k, v in a.substitutions(b.terms).items() if any(e.has(k) for e in exprs.values())}
        if not subs:
            raise DerivationError(f"{a.name} has nothing to rewrite in this derivation")
        exprs = {k: _expand(e.subs(subs)) for k, e in exprs.items()}
        shown = [(k, e) for k, e in exprs.items() if not k.name.startswith("grad_bar")]
        b.step(a.label, [*subs.items(), *shown], f"${a.statement}$", a.anchor,
               approximate=not (isinstance(a, StepSize) or a.exact))
    return exprs


def _expectations(b, loss, free: set, approximations):
    """What is left of E_q[·] after the approximations: exact for a polynomial loss, impossible for a
    singular one (raise), else a Monte-Carlo estimate in the emitted code (both printed as a step)."""
    from .approximations import StochasticGradient
    from .losses import ComponentLoss, Display, GLMLoss

    left = sorted(free & EXPECTATIONS)
    quadrature = [a for a in approximations if isinstance(a, GaussHermite)]
    if quadrature:
        if not isinstance(loss, GLMLoss):
            raise DerivationError("gauss-hermite integrates the one-dimensional predictives of a GLM loss "
                                  "(glm_loss(...)); other losses use Monte Carlo or the delta method")
        if not left:
            raise DerivationError("gauss-hermite has no expectation left to compute (the delta method removed them)")
        a = quadrature[0]
        b.step(a.label, [(Display("E_" + n, rf"\mathbb{{E}}_{{q_t}}[{_MC_TEX[n]}]"),
                          Display("gh_" + n, _GH_TEX[n])) for n in left],
               f"${a.statement}$ with $\\bar\\eta_i = x_i^\\top m_t$, $\\sigma_i^2 = x_i^\\top S_t^{{-1}} x_i$ and "
               "$(z_k, w_k)$ the 100 nodes and weights of $e^{-z^2}$", a.anchor, approximate=True)
        return "quadrature"
    if isinstance(loss, GLMLoss) and any(isinstance(a, StochasticGradient) for a in approximations) \
            and free & {"H", "h", "E_H", "E_h"}:
        raise DerivationError("the minibatch approximation rewrites gradients and Gauss-Newton sums, not the "
                              "exact Hessian of a GLM (which needs all N examples): add 'gauss-newton' or "
                              "'fixed-covariance'")
    if not left:
        return None
    if isinstance(loss, ComponentLoss):
        term = _singular_term(loss)
        if term is not None:
            raise DerivationError(
                f"E_q[{term}] does not exist under a Gaussian candidate ({term} is not integrable where it is "
                "singular); the delta method ('delta') removes the expectation")
        if loss.is_polynomial:
            _, eqs = loss.exact_code({}, b.elementwise, fixed=b.fixed)
            b.step("Expectations", eqs,
                   "exact Gaussian moments of a polynomial: "
                   "$\\mathbb{E}_{q_t}[p(\\theta)] = (e^{\\frac12\\nabla^\\top\\Sigma_t\\nabla} p)(m_t)$",
                   "bonnet-price")
            return "exact"
    if isinstance(loss, (ComponentLoss, GLMLoss, OracleLoss)):
        draw = (r"\theta_k = m_t + \epsilon_k/\sqrt{s_t}" if b.elementwise
                else r"\theta_k = m_t + L_t^{-\top}\epsilon_k$ with $S_t = L_t L_t^\top")
        b.step("Monte Carlo",
               [(Display("mc_" + n, rf"\mathbb{{E}}_{{q_t}}[{_MC_TEX[n]}]"),
                 Display("mc_est_" + n, rf"\frac{{1}}{{K}}\sum_{{k=1}}^{{K}} {_MC_TEX[n].replace('theta', 'theta_k')}"))
                for n in left],
               f"no approximation removes these expectations: the emitted step averages $K$ draws ${draw}$, "
               "$\\epsilon_k \\sim \\mathcal{N}(0, I)$ (reparameterisation)", "monte-carlo", approximate=True)
        return "monte-carlo"
    return None


#: expectations under q_t that an approximation may leave: exact (polynomial loss) or estimated by Monte Carlo
EXPECTATIONS = {"E_g", "E_H", "E_h", "E_g_batch", "E_h_gn", "E_h_gn_batch", "E_g_dev", "E_g_dev_batch"}
_MC_TEX = {"E_g": r"\nabla\ell(\theta)", "E_H": r"\nabla^2\ell(\theta)", "E_h": r"\mathrm{diag}\,\nabla^2\ell(\theta)",
           "E_g_batch": r"\hat g_{\mathcal{B}}(\theta)", "E_h_gn": r"\sum_i (\nabla\ell_i(\theta))^2",
           "E_h_gn_batch": r"\sum_{i\in\mathcal{B}} (\nabla\ell_i(\theta))^2",
           "E_g_dev": r"\nabla\ell(\theta)\odot(\theta - m_t)",
           "E_g_dev_batch": r"\hat g_{\mathcal{B}}(\theta)\odot(\theta - m_t)"}


_GH_TEX = {"E_g": r"X^\top \mathbb{E}[f'(\eta, y)]", "E_H": r"X^\top \mathrm{diag}\,\mathbb{E}[f''(\eta, y)]\, X",
           "E_h": r"\mathrm{diag}(X^\top \mathrm{diag}\,\mathbb{E}[f''(\eta, y)]\, X)"}


def _singular_term(loss):
    """A term of ``loss`` whose Gaussian expectation does not exist (a pole or a log at a real θ)."""
    for e in sp.preorder_traversal(loss.expr):
        if isinstance(e, sp.Pow) and e.exp.is_negative and e.base.has(*loss.theta) and not e.base.is_positive:
            return str(e)
        if isinstance(e, sp.log) and e.args[0].has(*loss.theta) and not e.args[0].is_positive:
            return str(e)
        if isinstance(e, sp.Pow) and e.exp.is_Rational and not e.exp.is_integer and e.base.has(*loss.theta) \
                and not e.base.is_nonnegative:
            return str(e)
    return None


def _sums_only(loss, approximations):
    """The minibatch and Gauss–Newton approximations rewrite sums over examples: a loss in θ's
    components is not one."""
    from .approximations import GaussNewton
    from .losses import ComponentLoss

    if isinstance(loss, ComponentLoss):
        for a in approximations:
            if isinstance(a, (StochasticGradient, GaussNewton)):
                raise DerivationError(f"{a.name} needs a loss that is a sum of per-example terms (a GLM loss "
                                      "or an oracle), not a loss in the components of θ")


def derive_gaussian(kind: str, loss, prior: GaussianPrior | None,
                    approximations: tuple[Approximation, ...], rule: str = "blr") -> dict:
    """Derive the Gaussian BLR update; returns the fields of a :class:`Derivation`.

    ``kind`` is ``"full"``, ``"diagonal"`` or ``"fixed"`` (fixed covariance :math:`I`); ``rule`` is
    ``"blr"`` or ``"improved"`` (:func:`improved_rule`).
    """
    from .approximations import StepSize

    _sums_only(loss, approximations)
    if any(isinstance(a, FixedCovariance) for a in approximations):
        kind = "fixed"
    if kind == "fixed":
        return _derive_fixed(loss, prior, approximations)
    b = StepBuilder(elementwise=(kind == "diagonal"))
    m, S = b.vec("m"), b.mat("s" if b.elementwise else "S")
    lam1, lam2 = b.vec("lam_1"), b.mat("lam_2")
    lam1n, lam2n = b.vec("lam_1_new"), b.mat("lam_2_new")
    d1, d2 = b.vec("dmu_1_loss"), b.mat("dmu_2_loss")
    E_g, E_H = b.vec("E_g"), b.mat("E_h" if b.elementwise else "E_H")
    S_new, m_new = b.mat("s_new" if b.elementwise else "S_new"), b.vec("m_new")
    b.terms.update({Role.EXPECTED_GRADIENT: E_g, Role.EXPECTED_HESSIAN: E_H, Role.PRECISION: S})
    mmT = m**2 if b.elementwise else m * m.T
    cov, stat = (("\\mathrm{diag}(s_t)^{-1}", "\\theta^2") if b.elementwise
                 else ("S_t^{-1}", "\\theta\\theta^\\top"))
    b.step("Candidate posterior",
           [(lam1, S * m), (lam2, -S / 2), (b.vec("mu_1"), m), (b.mat("mu_2"), b.inv(S) + mmT)],
           f"$q_t = \\mathcal{{N}}(m_t, {cov})$, $T(\\theta) = (\\theta, {stat})$"
           + (" elementwise" if b.elementwise else "") + ", constant base measure", "blr")

    if isinstance(loss, ExpressionLoss) and loss.model:  # its symbols (H, R, d; X, σ²) defined before they appear
        from .symbols import Display

        b.step("Model", [(Display("ell_theta", r"\ell(\theta)"), Display("ell_formula", loss.formula))], loss.model,
               "blr")

    # -- the BLR in natural parameters --------------------------------------------------
    if prior is None:
        nat1 = (1 - RHO) * lam1 - RHO * d1
        nat2 = (1 - RHO) * lam2 - RHO * d2
        why = "the BLR with a constant base measure; no prior, so $\\bar\\ell = \\ell$"
        grad_prior = sp.S.Zero if b.elementwise else sp.ZeroMatrix(D, 1)
    else:
        p1, p2 = _prior_natural(b, prior)
        nat1 = (1 - RHO) * lam1 + RHO * (b.vec("lam_0_1") - d1)
        nat2 = (1 - RHO) * lam2 + RHO * (b.mat("lam_0_2") - d2)
        why = "the BLR with the prior in the family: $\\bar\\ell = \\ell - \\log p_0$"
        # ∇(−log p₀)(m) = S₀m − S₀m₀ = −2λ₀,₂ m − λ₀,₁: the prior's part of ∇ℓ̄
        grad_prior = _expand(-2 * p2 * m - p1)
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
           "the natural gradient and $\\lambda_t = (s_t \\odot m_t, -\\tfrac12 s_t)$ inside the BLR" if b.elementwise else
           "the natural gradient and $\\lambda_t = (S_t m_t, -\\tfrac12 S_t)$ inside the BLR", "bonnet-price")
    # the natural gradient of E_q[ℓ̄] in its first coordinate, carried through every rewrite below:
    # the textbook form is checked against it, not against a gradient read back from λ
    grad_bar = _expand(E_g + grad_prior)

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
            with warnings.catch_warnings():  # SymPy's matrix calculus warns where it gives up: refuse instead
                warnings.simplefilter("error", SymPyDeprecationWarning)
                g = _expand(_symmetric(loss.gradient(), sym))
                H = _expand(_symmetric(loss.hessian(), sym))
        except (AttributeError, NotImplementedError, TypeError, SymPyDeprecationWarning):
            raise not_quadratic from None
        if H.has(loss.theta):
            raise not_quadratic
        g_m = _expand(g.subs(loss.theta, m))
        b.step("Expectations", [(E_g, g_m), (E_H, H)],
               "$\\ell$ is quadratic: $\\nabla\\ell$ is affine in $\\theta$ and $\\nabla^2\\ell$ is constant, "
               "so the expectations are exact at $m_t$", "conjugate")
        nat1, nat2 = _expand(nat1.subs({E_g: g_m, E_H: H})), _expand(nat2.subs({E_H: H}))
        grad_bar = _expand(grad_bar.subs({E_g: g_m}))
        b.step("Substitute", [(lam1n, nat1), (lam2n, nat2)], "the exact expectations", "conjugate")
        dims = dict(loss.dims)
    elif isinstance(loss, OracleLoss) or _derived(loss):
        if isinstance(loss, OracleLoss) and b.elementwise and loss.hessian != "diagonal":
            loss = OracleLoss(loss.name, "diagonal")
        _oracle_terms(b)
        _loss_steps(b, loss)
        dims = dict(getattr(loss, "dims", ())) or dims
    else:
        raise DerivationError(f"unknown loss {loss!r}: give an OracleLoss, a GLMLoss, a SymPy expression in θ "
                              "or an ExpressionLoss")

    skip = (DeltaMethod, StochasticGradient) if isinstance(loss, ExpressionLoss) else ()  # exact already
    grad_key = sp.Symbol("grad_bar")
    out = _apply(b, approximations, loss, {lam1n: nat1, lam2n: nat2, grad_key: grad_bar}, skip)
    nat1, nat2, grad_bar = out[lam1n], out[lam2n], out[grad_key]
    expectations = _expectations(b, loss, _names(nat1) | _names(nat2), approximations)

    # -- back to the standard parameters ----------------------------------------------
    S_rhs = _expand(-2 * nat2)
    b.step("Standard parameters", [(S_new, S_rhs), (m_new, b.inv(S_new) * lam1n)],
           "$s = -2\\lambda_2$ and $m = \\lambda_1 / s$" if b.elementwise else
           "$S = -2\\lambda_2$ and $m = S^{-1}\\lambda_1$", "blr")
    step = next((a.value for a in approximations if isinstance(a, StepSize) and a.value == 1), RHO)
    state_free = m not in nat1.free_symbols and not (isinstance(nat1, MatrixExpr) and nat1.has(m))
    if state_free:
        textbook = _expand(b.inv(S_new) * nat1) if b.elementwise else b.inv(S_new) * nat1
        why = "the start $m_t, S_t$ has dropped out: one step gives the exact posterior"
    else:
        textbook = m - step * b.inv(S_new) * grad_bar
        why = f"multiply by ${'s' if b.elementwise else 'S'}_{{t+1}}$: both sides equal $\\lambda_{{1,t+1}}$"
    # the claim S_{t+1} m_{t+1} = λ_{1,t+1}, with the natural gradient that was derived
    residual = _expand(S_new * textbook).subs(S_new, S_rhs) - nat1
    if not _is_zero(residual):
        raise AssertionError(f"textbook form does not follow: residual {residual}")
    b.step("Textbook form", [(S_new, S_rhs), (m_new, textbook)], why, "blr")
    update, outputs = ((S_new, S_rhs), (m_new, textbook)), ()
    # the gain form rewrites the exact posterior (ρ = 1): with ρ < 1 the start stays, the information form too
    if isinstance(loss, ExpressionLoss) and loss.kind == "linear-gaussian" and state_free and not S_rhs.has(S):
        update = _gain_form(b, loss, prior, S_rhs, nat1)
        v, C, K, m_out, P_out = (lhs for lhs, _ in update)
        outputs = (m_out, P_out, K, v, C)
    if rule == "improved":
        update = improved_rule(b, S, m, S_rhs, grad_bar, step, S_new, m_new)
        outputs = (m_new, S_new)
    rewrites = [a for a in approximations if a.stage is Stage.TEXTBOOK]
    if rewrites:
        if not b.elementwise:
            raise DerivationError("rewrites of the textbook form (RMSprop, Adam, IVON) need the diagonal Gaussian")
        # α is the prior precision N(0, α⁻¹I) here: a decoupled step size takes another letter, η
        if prior is not None and prior.isotropic is not None:
            b.terms[Role.LEARNING_RATE_LATEX] = r"\eta"
        update, outputs = _rewrite_textbook(b, rewrites, dict(update), m, S, m_new, S_new)
    if Role.STEP_SIZE_VALUE in b.terms:  # ρ's value stated once, first: the emitted step assigns it
        outputs = outputs or tuple(lhs for lhs, _ in reversed(list(update)))
        update = ((RHO, b.terms[Role.STEP_SIZE_VALUE]), *update)
    prior_data = prior.data if prior is not None else ()
    return dict(outputs=outputs, steps=b.steps, natural=((lam1n, nat1), (lam2n, nat2)),
                update=update, elementwise=b.elementwise, dims=dims, terms=b.terms, loss=loss,
                prior_data=prior_data, expectations=expectations)


def _rewrite_textbook(b: StepBuilder, rewrites, update: dict, m, s, m_new, s_new):
    """Apply the rewrites of the finished update in order, one printed step each (Khan & Rue 2023,
    Sec. 4.2: how RMSprop and Adam leave the BLR)."""
    b.terms.update({Role.MEAN: m, Role.PRECISION: s, Role.NEW_MEAN: m_new, Role.NEW_PRECISION: s_new})
    for a in rewrites:
        before, known = dict(update), set(b.terms)
        update = a.rewrite(update, b.terms)
        if update == before:
            raise DerivationError(f"{a.name} has nothing to rewrite in this derivation")
        undeclared = set(b.terms) - known - a.produces
        if undeclared:  # what an approximation brings is what it declares (the chain is checked from that)
            raise AssertionError(f"{a.key} produced {', '.join(sorted(r.name for r in undeclared))} undeclared")
        statement = a.statement_in(b.terms)
        b.step(a.label, list(update.items()), f"${statement}$" + (f", {a.note}" if a.note else ""), a.anchor,
               approximate=not a.exact)
    scale = next((b.terms[r] for r in (Role.NEW_PER_EXAMPLE_PRECISION, Role.NEW_HESSIAN_AVERAGE) if r in b.terms),
                 s_new)
    order = [m_new, scale, b.terms.get(Role.NEW_GRADIENT_AVERAGE)]
    outputs = tuple(x for x in order if x is not None and x in update)
    ordered = [(k, v) for k, v in update.items() if k not in outputs] + [(k, update[k]) for k in reversed(outputs)]
    return tuple(ordered), outputs


def improved_rule(b: StepBuilder, S, m, S_rhs, grad_bar, step, S_new, m_new):
    r"""The improved BLR (Lin, Schmidt & Khan 2020): a second-order retraction keeps S positive definite.

    With :math:`\hat G = \mathbb{E}_q[\nabla^2\bar\ell] - S_t`, the plain rule is
    :math:`B = S_t + \rho\hat G` and the improved one adds the term of the retraction,

    .. math::

        S_{t+1} = S_t + \rho\hat G + \tfrac{\rho^2}{2}\hat G S_t^{-1}\hat G
                = \tfrac12\big(S_t + B S_t^{-1} B\big),

    positive definite for every ρ > 0 and every symmetric :math:`\hat G`; the mean step uses the
    new precision (as IVON and AdvancedVI do).  The equality of the two forms is checked here.
    """
    B = b.mat("b" if b.elementwise else "B")
    G = _expand((S_rhs - S) / step)
    retraction = _expand(S_rhs + step**2 / 2 * G * b.inv(S) * G)
    closed = _expand((S + S_rhs * b.inv(S) * S_rhs) / 2)
    if not _is_zero(retraction - closed):
        raise AssertionError("the improved BLR's two forms differ")
    G_hat = b.mat("G_hat")
    b.step("Improved BLR", [(G_hat, G), (S_new, S + step * G_hat + step**2 / 2 * G_hat * b.inv(S) * G_hat),
                            (B, S_rhs), (S_new, (S + B * b.inv(S) * B) / 2)],
           "a second-order retraction adds $\\tfrac{\\rho^2}{2}\\hat G S_t^{-1}\\hat G$ "
           "(Lin, Schmidt \\& Khan 2020): positive definite for every $\\rho$", "improved-blr")
    textbook = m - step * b.inv(S_new) * grad_bar
    b.step("Textbook form", [(B, S_rhs), (S_new, (S + B * b.inv(S) * B) / 2), (m_new, textbook)],
           "the mean step with the new precision", "improved-blr")
    return ((B, S_rhs), (S_new, _expand((S + B * b.inv(S) * B) / 2)), (m_new, textbook))


def _derive_fixed(loss, prior, approximations) -> dict:
    r"""Gradient descent: :math:`q = \mathcal{N}(m, I)`, :math:`\lambda = \mu = m` (Sec. 1.3)."""
    if isinstance(loss, ExpressionLoss) or not (isinstance(loss, OracleLoss) or _derived(loss)):
        raise DerivationError("the fixed-covariance Gaussian takes an oracle, GLM or component loss")
    if prior is not None and prior.isotropic is None:
        raise DerivationError("the fixed-covariance Gaussian takes an isotropic prior N(0, α⁻¹I) only")
    b = StepBuilder(elementwise=False, fixed=True)
    m, lam, lamn, dmu = b.vec("m"), b.vec("lam_1"), b.vec("lam_1_new"), b.vec("dmu_1_loss")
    E_g, m_new = b.vec("E_g"), b.vec("m_new")
    b.terms.update({Role.EXPECTED_GRADIENT: E_g, Role.GRADIENT: b.vec("g"), Role.MINIBATCH_GRADIENT: b.vec("g_batch"),
                    Role.EXPECTED_MINIBATCH_GRADIENT: b.vec("E_g_batch")})
    b.step("Candidate posterior", [(lam, m), (b.vec("mu_1"), m)],
           "$q_t = \\mathcal{N}(m_t, I)$: $T(\\theta) = \\theta$, and the entropy is constant", "fixed-covariance")
    nat = lam - RHO * dmu
    b.step("Bayesian learning rule", [(lamn, nat)],
           "the entropy is constant, so $\\nabla_\\mu\\mathcal{H}(q) = 0$", "blr")
    grad = E_g if prior is None else E_g + prior.isotropic * m
    b.step("Natural gradient", [(dmu, grad)],
           "Bonnet's theorem: $\\nabla_m\\mathbb{E}_q[\\ell] = \\mathbb{E}_q[\\nabla\\ell]$"
           + ("" if prior is None else "; the prior adds $\\nabla_m\\mathbb{E}_q[-\\log p_0] = \\alpha m_t$"), "bonnet-price")
    nat = _expand(nat.subs({dmu: grad, lam: m}))
    _loss_steps(b, loss)
    nat = _apply(b, approximations, loss, {lamn: nat})[lamn]
    expectations = _expectations(b, loss, _names(nat), approximations)
    b.step("Textbook form", [(m_new, nat)], "$m = \\lambda$", "gradient-descent")
    update = ((m_new, nat),)
    if Role.STEP_SIZE_VALUE in b.terms:  # ρ's value stated once, first
        update = ((RHO, b.terms[Role.STEP_SIZE_VALUE]), *update)
    return dict(steps=b.steps, natural=((lamn, nat),), update=update, outputs=(m_new,), elementwise=False,
                dims=dict(getattr(loss, "dims", ())) or {D: "m.shape[-1]"}, terms=b.terms, loss=loss,
                prior_data=prior.data if prior is not None else (), expectations=expectations)


def _names(expr) -> set[str]:
    out = {s.name for s in expr.free_symbols if hasattr(s, "name")}
    out |= {s.name for s in expr.atoms(MatrixSymbol)}
    return out


def _gain_form(b: StepBuilder, loss: ExpressionLoss, prior: GaussianPrior, S_rhs, lam1):
    r"""Information form → gain form of the Kalman measurement update (Woodbury identity).

    With :math:`C = H\bar P H^\top + R` and :math:`K = \bar P H^\top C^{-1}`,
    :math:`(\bar P^{-1} + H^\top R^{-1} H)^{-1} = (I - KH)\bar P` and the mean becomes
    :math:`\bar m + K(y - d - H\bar m)`; the covariance is emitted in Joseph's form, equal for
    this gain and symmetric positive semi-definite by construction.  Each equality is verified
    against the *derived* information form (``S_rhs``, ``lam1``) with exact rational matrices for
    every D ≤ 3, O ≤ 3 (:func:`_verify_gain_form`), so an error upstream stops the derivation.
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
           "$(\\bar P^{-1} + H^\\top R^{-1}H)^{-1} = \\bar P - \\bar P H^\\top C^{-1} H \\bar P$, "
           "verified against the derived $S_{t+1}$ and $\\lambda_{1,t+1}$", "woodbury")
    joseph = (I - K * H) * P_pred * (I - K * H).T + K * R * K.T
    b.step("Joseph form", [(P_new, joseph)],
           "equal for the optimal gain; symmetric and positive definite in floating point", "kalman")
    update = (*defs, (m_new, m_pred + K * v), (P_new, joseph))
    _verify_gain_form(update, S_rhs, lam1, (I - K * H) * P_pred)
    return update


def _evaluate(e, values: dict, d_: int):
    """A matrix expression evaluated on explicit SymPy matrices (``values``: name → Matrix)."""
    if isinstance(e, MatrixSymbol):
        return values[e.name]
    if isinstance(e, Identity):
        return sp.eye(d_)
    if isinstance(e, sp.ZeroMatrix):
        return sp.zeros(d_, 1) if e.shape[1] == 1 else sp.zeros(d_, d_)
    if isinstance(e, Transpose):
        return _evaluate(e.arg, values, d_).T
    if isinstance(e, Inverse):
        return _evaluate(e.arg, values, d_).inv()
    if isinstance(e, sp.MatAdd):
        parts = [_evaluate(a, values, d_) for a in e.args]
        return sum(parts[1:], parts[0])
    if isinstance(e, sp.MatMul):
        c, mats = e.as_coeff_matrices()
        out = _evaluate(mats[0], values, d_)
        for a in mats[1:]:
            out = out * _evaluate(a, values, d_)
        return c * out
    raise NotImplementedError(f"cannot evaluate {type(e).__name__}")


def _verify_gain_form(update, S_rhs, lam1, plain_cov):
    r"""Check the gain form against the derived information form, exactly.

    For D, O ∈ {1, 2, 3}: fixed rational SPD :math:`\bar P`, :math:`R`, rational
    :math:`H`, :math:`\bar m`, :math:`y`, :math:`d`; then :math:`P_{t+1} S_{t+1} = I`,
    :math:`S_{t+1} m_{t+1} = \lambda_{1,t+1}` and Joseph's form :math:`= (I - KH)\bar P`.
    """
    for d_ in (1, 2, 3):
        for o_ in (1, 2, 3):
            def rat(name, r, c, spd=False, k=0):
                A = sp.Matrix(r, c, lambda i, j: sp.Rational((3 * i + 5 * j + k) % 7 - 3, 1 + (i + j + k) % 3))
                return A * A.T + sp.eye(r) if spd else A

            values = {"P_pred": rat("P", d_, d_, True, 1), "R": rat("R", o_, o_, True, 2),
                      "obs_matrix": rat("H", o_, d_, k=3), "m_pred": rat("m", d_, 1, k=4),
                      "y": rat("y", o_, 1, k=5), "d": rat("d", o_, 1, k=6)}
            table = {}

            def num(e):
                return _evaluate(e, {**values, **table}, d_)

            for lhs, rhs in update:
                table[lhs.name] = num(rhs)
            S_, l1 = num(S_rhs), num(lam1)
            P_, m_ = table["P_new"], table["m_new"]
            checks = {"P_{t+1} S_{t+1} = I": P_ * S_ - sp.eye(d_), "S_{t+1} m_{t+1} = λ_{1,t+1}": S_ * m_ - l1,
                      "Joseph = (I − KH)P̄": P_ - num(plain_cov)}
            for what, r in checks.items():
                if any(x != 0 for x in r):  # exact rationals: no simplification needed
                    raise AssertionError(f"the Kalman gain form does not follow from the derived update "
                                         f"({what} fails for D={d_}, O={o_})")


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
