r"""Expectation–maximisation for a Gaussian mixture as the BLR (Khan & Rue 2023, Sec. 5.2).

The model :math:`p(x_i, z_i = k\mid\theta) = \pi_k\,\mathcal N(x_i\mid m_k, S_k^{-1})` with parameters
:math:`\theta = (\pi_k, m_k, S_k)_{k\le K}` and one latent assignment :math:`z_i` per observation.  The
candidate is :math:`q(z, \theta) = \prod_i \mathrm{Cat}(z_i\mid r_i)\; q(\theta)`, an exponential family for
the assignments and a Gaussian for the parameters (Table 1: "Exp-family + Gaussian").  The BLR is applied
to each block with ρ = 1 and the delta method for the parameters:

* the assignments' block, with :math:`\mathbb E_{q(\theta)}[\cdot]` at the mean of :math:`q(\theta)`, is the
  E-step: :math:`\lambda_{ik} = \log\pi_k + \log\mathcal N(x_i\mid m_k, S_k^{-1})`, :math:`r_i = \mathrm{softmax}(\lambda_i)`;
* the parameters' block is the delta-method Gaussian BLR at ρ = 1, a Newton step on
  :math:`Q(\theta) = \mathbb E_{q(z)}[\bar\ell(\theta, z)]`; its fixed point :math:`\nabla Q = 0` is the
  M-step (for the means the first step is already there: Q is quadratic in :math:`m_k`).

Every equation is computed here with SymPy from the complete-data loss in its exponential-family form
:math:`\log\mathcal N(x\mid m, S^{-1}) = \langle\eta, T(x)\rangle - A(\eta)` (the family's
:math:`\eta = (Sm, -\tfrac12 S)`, :math:`T = (x, xx^\top)`), and each closed form is checked by substitution.
"""

from __future__ import annotations

import sympy as sp
from sympy import Determinant, Identity, Inverse, MatrixSymbol, Trace, Transpose

from . import ir
from .derivation import Argument, Assignment, Derivation, Equation, Step
from .algebra import expand_terms, is_zero, matrix_gradient
from .errors import DerivationError
from .printing import equation_line
from .symbols import D, Display

__all__ = ["derive_em"]

_NEEDS = ("delta", "rho=1")


def derive_em(approximations, *, function_name: str = "em_step", title=None, anchor=None) -> Derivation:
    r"""Derive one EM iteration for a full-covariance Gaussian mixture (see the module docstring).

    ``approximations`` must be the delta method (for the parameters) and ρ = 1; anything else is refused:
    without the delta method :math:`\mathbb E_{q(\theta)}[\log\det S_k]` and friends stay (that is
    variational Bayes, not EM), and with ρ < 1 the assignments' step is no longer the E-step.
    """
    keys = sorted(a.key for a in approximations)
    if keys != sorted(_NEEDS):
        raise DerivationError("EM derives with the delta method for the parameters and rho=1 exactly (got "
                              f"{', '.join(keys) or 'none'}); without the delta method E_q(θ)[log det S_k] is left "
                              "(variational Bayes), with ρ < 1 the assignments' step is not the E-step")
    anchor = anchor or "em"
    x, m, S = MatrixSymbol("x_i", D, 1), MatrixSymbol("m_k", D, 1), MatrixSymbol("S_k", D, D)
    pi_k, z = sp.Symbol("pi_k", positive=True), sp.Symbol("z_ik", nonnegative=True)
    steps: list[Step] = []

    def step(label, eqs, why, approximate=False):
        steps.append(Step(label, tuple(Equation(a, b, approximate) for a, b in eqs), why, anchor))

    # -- the complete-data loss, the Gaussian in its exponential-family form ------------------------------
    eta1, eta2 = S * m, -S / 2
    A = Trace(m.T * S * m) / 2 - sp.log(Determinant(S)) / 2 + D * sp.log(2 * sp.pi) / 2
    log_normal = Trace(eta1.T * x) + Trace(eta2 * x * x.T) - A  # ⟨η, T(x)⟩ − A(η)
    loss_ik = -z * (sp.log(pi_k) + log_normal)  # the k-th term of ℓ̄_i(θ, z) (flat p₀)
    q_zt = Display("q_z_theta", r"q(z, \theta)", "q(z, θ)")
    step("Candidate posterior", [(q_zt, Display("q_em", r"\prod_i \mathrm{Cat}(z_i\mid r_i)\;"
                                                r"\mathcal{N}(\theta\mid m_\theta, S_\theta^{-1})",
                                                "Πᵢ Cat(zᵢ|rᵢ) N(θ|m_θ, S_θ⁻¹)"))],
         "one categorical per observation and a Gaussian over $\\theta = (\\pi_k, m_k, S_k)_{k \\le K}$")
    lbar = Display("lbar_i", r"\bar\ell_i(\theta, z)", "ℓ̄ᵢ(θ, z)")
    lbar_k = Display("lbar_ik", r"\bar\ell_{ik}", "ℓ̄ᵢₖ")
    step("Complete-data loss", [(lbar, Display("sum_lbar_ik", r"\sum_k \bar\ell_{ik}", "Σₖ ℓ̄ᵢₖ")),
                                (lbar_k, sp.expand(loss_ik, log=False))],
         "$-\\log \\pi_k\\mathcal{N}(x_i\\mid m_k, S_k^{-1})$ per assignment, the Gaussian as "
         "$\\langle\\eta_k, T(x_i)\\rangle - A(\\eta_k)$, $\\eta_k = (S_k m_k, -\\tfrac12 S_k)$; a flat prior")

    # -- the assignments: ρ = 1 and the delta method for θ is the E-step ----------------------------------
    lam = sp.Symbol("lambda_ik", real=True)
    nat = -sp.diff(loss_ik, z)  # λ_ik = −∂E_q[ℓ̄]/∂μ_ik, μ_ik = E[z_ik]; λ₀ = 0 (π is in the loss)
    quad = Trace((x - m).T * S * (x - m))
    tidy = sp.log(pi_k) + sp.log(Determinant(S)) / 2 - quad / 2 - D * sp.log(2 * sp.pi) / 2
    if not _zero_in_2d(nat - tidy):
        raise AssertionError("the assignments' natural parameter is not log π_k + log N(x_i | m_k, S_k⁻¹)")
    step("Assignments, ρ = 1", [(lam, Display("E_nat", r"\mathbb{E}_{q(\theta)}\!\left[-\frac{\partial\bar\ell_i}"
                                              r"{\partial z_{ik}}\right]", "E_q(θ)[−∂ℓ̄ᵢ/∂z_ik]"))],
         "$\\lambda_i \\gets -\\nabla_{\\mu_i}\\mathbb{E}_q[\\bar\\ell]$ with $\\mu_{ik} = \\mathbb{E}[z_{ik}]$; "
         "the loss is linear in $z_{ik}$")
    step("Delta method for the parameters", [(lam, tidy)],
         "$\\mathbb{E}_{q(\\theta)}[f(\\theta)] \\approx f(m_\\theta)$: every parameter at the mean of $q(\\theta)$ "
         "(the E-step's $\\log\\pi_k + \\log\\mathcal{N}(x_i\\mid m_k, S_k^{-1})$, checked)", approximate=True)
    r = sp.Symbol("r_ik", positive=True)
    step("E-step", [(r, Display("softmax", r"\frac{e^{\lambda_{ik}}}{\sum_j e^{\lambda_{ij}}}", "exp(λ_ik)/Σⱼ exp(λ_ij)"))],
         "the categorical's expectation parameters $\\mu = \\nabla A(\\lambda)$")

    # -- the parameters: Newton on Q(θ) = E_q(z)[ℓ̄], iterated to its fixed point: the M-step -------------
    Nk = sp.Symbol("N_k", positive=True)
    s, C = MatrixSymbol("s_k", D, 1), MatrixSymbol("C_k", D, D)
    # Σ_i r_ik ⟨η_k, T(x_i)⟩ = ⟨η_k, Σ_i r_ik T(x_i)⟩: the statistics N_k, s_k = Σ r_ik x_i, C_k = Σ r_ik x_i x_iᵀ
    Q = -Nk * sp.log(pi_k) - (Trace(eta1.T * s) + Trace(eta2 * C) - Nk * A)
    Qd, Q_k = Display("Q_theta", r"Q(\theta)", "Q(θ)"), Display("Q_k", r"Q_k(\theta)", "Qₖ(θ)")
    stats = Display("stats", r"N_k = \sum_i r_{ik},\; s_k = \sum_i r_{ik} x_i,\; C_k = \sum_i r_{ik} x_i x_i^\top",
                    "N_k = Σᵢ r_ik, s_k = Σᵢ r_ik xᵢ, C_k = Σᵢ r_ik xᵢxᵢᵀ")
    step("Parameters: delta method, ρ = 1", [
        (Display("theta_new", r"\theta_{t+1}", "θₜ₊₁"),
         Display("newton_Q", r"\theta_t - [\nabla^2 Q(\theta_t)]^{-1}\nabla Q(\theta_t)", "θₜ − [∇²Q]⁻¹∇Q")),
        (Qd, Display("sum_Q_k", r"\sum_k Q_k(\theta)", "Σₖ Qₖ(θ)")), (Q_k, sp.expand(Q, log=False))],
         "the Gaussian BLR with the delta method at $\\rho = 1$ is Newton's method (Sec. 1.3) on "
         "$Q(\\theta) = \\mathbb{E}_{q(z)}[\\bar\\ell(\\theta, z)]$, linear in the statistics ($" + stats._tex + "$)")
    # ∇_m Q: SymPy's matrix calculus; Q is quadratic in m_k, so the Newton step lands on the stationary point
    sym = {Transpose(S): S, Transpose(C): C}
    g_m = expand_terms(matrix_gradient(Q, m).subs(sym))
    H_m = Nk * S
    m_new = MatrixSymbol("means_new", D, 1)
    m_star = s / Nk
    if not is_zero(g_m - (H_m * m - S * s)) or not is_zero(g_m.subs(m, m_star)):
        raise AssertionError("the mean's Newton step does not land on s_k / N_k")
    step("Means", [(MatrixSymbol("grad_m_Q", D, 1), g_m), (m_new, m_star)],
         "$\\nabla_{m_k}Q$ is affine in $m_k$ with Hessian $N_k S_k$: one Newton step reaches $\\nabla_{m_k}Q = 0$ "
         "(checked)")
    # ∇_S Q: SymPy for the traces, ∂ log det S / ∂S = S⁻ᵀ for the log-partition's log det
    logdet_part = -Nk * sp.log(Determinant(S)) / 2  # the log det term of N_k A(η_k)
    g_S = expand_terms((matrix_gradient(Q - logdet_part, S) - Nk / 2 * Inverse(S).T).subs(sym).subs(Transpose(Inverse(S)),
                                                                                     Inverse(S)))
    Sigma_new = MatrixSymbol("covariances_new", D, D)
    Sigma_star = C / Nk - m_new * m_new.T
    at = g_S.subs(m, m_star).subs(S, Inverse(Sigma_star.subs(m_new, m_star))).doit()
    if not is_zero(at):
        raise AssertionError(f"Σ_k = C_k/N_k − m_k m_kᵀ is not where ∇_S Q = 0: residual {at}")
    # the D = 2 check with explicit entries (_check_stationary_2d) does not depend on the request: the tests run it
    step("Covariances", [(MatrixSymbol("grad_S_Q", D, D), g_S), (Sigma_new, Sigma_star)],
         "$\\partial\\log\\det S/\\partial S = S^{-\\top}$; $\\nabla_{S_k}Q = 0$ is linear in $S_k^{-1}$, solved at "
         "the new mean (checked, and against the explicit gradient for $D = 2$); Newton's steps in $S_k$ converge to it")
    pi_new = sp.Symbol("weights_new", positive=True)
    N = sp.Symbol("N", positive=True)
    _check_weights()
    step("Weights", [(pi_new, Nk / N)],
         "$Q$ in the weights' categorical natural parameters $v_k = \\log(\\pi_k/\\pi_K)$ is "
         "$-\\sum_k N_k v_k + N A(v)$, stationary where $\\mu = \\nabla A(v) = N_k/N$ (solved for $K = 3$)")
    S_new = MatrixSymbol("precisions_new", D, D)
    ll = sp.Symbol("log_likelihood", real=True)
    i = sp.Idx("i")
    log_norm = sp.IndexedBase("log_norm")
    ll_expr = sp.Sum(log_norm[i], (i, 1, N))
    step("Textbook form", [(pi_new, Nk / N), (m_new, m_star), (Sigma_new, Sigma_star), (S_new, Inverse(Sigma_new)),
                           (Display("Z_i", "Z_i", "Zᵢ"), Display("Z_sum", r"\sum_j e^{\lambda_{ij}}", "Σⱼ exp(λ_ij)")),
                           (ll, ll_expr)],
         "EM for a Gaussian mixture (Dempster, Laird and Rubin 1977): the E-step's normaliser is the "
         "log-likelihood of the current parameters")
    update = (Equation(pi_new, Nk / N), Equation(m_new, m_star), Equation(Sigma_new, Sigma_star),
              Equation(S_new, Inverse(Sigma_new) * Identity(D)), Equation(ll, ll_expr))
    # printed alone, the update is self-contained: the E-step and the statistics it reads come first (the emitted
    # step computes them in its oracle lines, _e_step_code)
    Z = Display("Z_i", "Z_i", "Zᵢ")
    e_step = ((lam, tidy), (Z, Display("Z_sum", r"\sum_j e^{\lambda_{ij}}", "Σⱼ exp(λ_ij)")),
              (r, Display("r_of_Z", r"\frac{e^{\lambda_{ik}}}{Z_i}", "exp(λ_ik)/Zᵢ")),
              (Nk, Display("sum_r", r"\sum_{i=1}^{N} r_{ik}", "Σᵢ r_ik")),
              (s, Display("sum_rx", r"\sum_{i=1}^{N} r_{ik} x_i", "Σᵢ r_ik xᵢ")),
              (C, Display("sum_rxx", r"\sum_{i=1}^{N} r_{ik} x_i x_i^\top", "Σᵢ r_ik xᵢxᵢᵀ")))
    printed = tuple(Equation(a, b) for a, b in e_step) + update
    oracles = _e_step_code(nat, x, m, S, pi_k, eta2)
    args = (Argument("X", "data", "observations x_i, (..., N, D)"),
            Argument("XX", "data", "their statistics x_i x_iᵀ, flattened, (..., N, D*D): the same at every "
                                   "iteration, computed once by the caller (blrkit.algorithms.em.second_moments)"),
            Argument("weights", "data", "mixture weights π_k, (..., K), on the simplex"),
            Argument("means", "data", "component means m_k, (..., K, D)"),
            Argument("precisions", "data", "component precisions S_k, (..., K, D, D), symmetric positive definite"))

    assignments = tuple(Assignment(eq.lhs, eq.rhs, equation_line(eq)) for eq in update)
    name = title or "Expectation–maximisation (Gaussian mixture)"
    return Derivation(
        title=name, family="categorical+gaussian", approximations=tuple(approximations), steps=tuple(steps),
        natural_update=(Equation(lam, tidy),), update=printed, anchor=anchor, function_name=function_name,
        summary=f"One BLR step: {name}, the E-step and the M-step.", arguments=args, oracles=oracles,
        assignments=assignments, outputs=(pi_new, m_new, S_new, ll), dims=((D, "X.shape[-1]"),), elementwise=False,
        extra={"in_order": True, "sum_axis": -1},
    )


def _e_step_code(nat, x, m, S, pi_k, eta2) -> tuple:
    r"""The E-step's IR nodes, printed from the derived :math:`\lambda_{ik}`: its coefficient of :math:`x_i`
    (:math:`\partial\lambda_{ik}/\partial x_i` at :math:`x_i = 0`, i.e. :math:`\eta_{k,1}`), the family's
    :math:`\eta_{k,2} = -\tfrac12 S_k` as the coefficient of :math:`x_i x_i^\top` (checked: the three parts add up
    to :math:`\lambda_{ik}` for D = 2) and the rest, :math:`\lambda_{ik}` at :math:`x_i = 0`. The pairing
    :math:`\langle\eta_k, T(x_i)\rangle` of every observation with every component is two matrix products with
    the statistics :math:`T = (x, x x^\top)`, and the M-step's statistics are their transposes with the
    responsibilities."""
    zero = sp.ZeroMatrix(D, 1)
    eta1 = expand_terms(matrix_gradient(nat, x).subs(x, zero).doit())
    rest = nat.subs(x, zero).doit()
    if not _zero_in_2d(nat - rest - Trace(eta1.T * x) - Trace(eta2 * x * x.T)):
        raise AssertionError("λ_ik is not ⟨η_k, T(x_i)⟩ plus a term free of x_i")
    names = {m: MatrixSymbol("means", D, 1), S: MatrixSymbol("precisions", D, D),
             pi_k: sp.Symbol("weights", positive=True)}
    let = lambda name, e: ir.Let(name, e.xreplace(names), matrix=True, dims=((D, "X.shape[-1]"),))  # noqa: E731
    r = ir.Operand("r", "ik")  # the components k are a batch axis
    return (
        ir.Comment("T(x_i) = (x_i, x_i x_iᵀ), the Gaussian's statistics (XX: the caller's, the same every "
                   "iteration),\nshared by the E-step and the M-step"),
        ir.Count(("N", "D"), "X", (-2, -1)),
        ir.Comment("the E-step: λ_ik = ⟨η_k, T(x_i)⟩ + c_k, each part read off the derived λ_ik (components k on a "
                   "batch axis)"),
        let("eta_1", eta1), let("eta_2", eta2), let("c", rest),
        ir.PairingLogits("lam", "X", "XX", "eta_1", "eta_2", "c"),
        ir.Responsibilities("r", "lam", "log_norm", "responsibilities r_ik, (..., N, K)"),
        ir.Comment("the statistics of the M-step: N_k = Σ_i r_ik, s_k = Σ_i r_ik x_i, C_k = Σ_i r_ik x_i x_iᵀ"),
        ir.Contraction("N_k", "k", r),
        ir.Contraction("s_k", "kd", r, ir.Operand("X", "id")),
        ir.Contraction("C_k", "ke", r, ir.Operand("XX", "ie"), shape="N_k"),
    )


def _zero_in_2d(e) -> bool:
    """Is the scalar ``e`` (traces and determinants of this module's matrix symbols) zero for D = 2, every
    matrix written out entry by entry (the symmetric ones symmetric)?"""
    out = {}
    for a in e.atoms(MatrixSymbol):
        rows, cols = a.shape
        if cols == 1:
            out[a] = sp.ImmutableMatrix([sp.Symbol(f"{a.name}{j}", real=True) for j in range(2)])
        else:  # S_k and C_k are symmetric
            u = [sp.Symbol(f"{a.name}{j}", real=True) for j in range(3)]
            out[a] = sp.ImmutableMatrix([[u[0], u[1]], [u[1], u[2]]])
    return is_zero(e.xreplace(out).subs(D, 2).doit())


def _check_stationary_2d(mean=lambda s, n: s / n, covariance=lambda C, n, m: C / n - m * m.T) -> None:
    r"""For D = 2 with explicit entries: the closed form zeroes the explicit gradient of
    :math:`Q_k = -\langle\eta, (s, C)\rangle + N_k A(\eta)` in every entry of m and of the symmetric S.

    ``mean(s, n)`` and ``covariance(C, n, m)`` are the closed forms checked (by default the M-step's,
    :math:`m_k = s_k/N_k`, :math:`\Sigma_k = C_k/N_k - m_k m_k^\top`); an AssertionError names the first entry
    whose derivative they do not zero. It does not depend on a request, so :func:`derive_em` does not run it
    on every derivation: tests/derive/test_self_checks.py does, once a run.
    """
    a, b, c = sp.symbols("a b c", real=True)
    m1, m2, s1, s2, n = sp.symbols("m1 m2 s1 s2 n", real=True)
    c11, c12, c22 = sp.symbols("c11 c12 c22", real=True)
    S = sp.Matrix([[a, b], [b, c]])
    m, s, C = sp.Matrix([m1, m2]), sp.Matrix([s1, s2]), sp.Matrix([[c11, c12], [c12, c22]])
    Q = -((S * m).T * s)[0] + (S * C).trace() / 2 + n * ((m.T * S * m)[0] / 2 - sp.log(S.det()) / 2)
    m_star = mean(s, n)
    Sigma = covariance(C, n, m_star)
    S_star = Sigma.inv()
    at = {m1: m_star[0], m2: m_star[1], a: S_star[0, 0], b: S_star[0, 1], c: S_star[1, 1]}
    for v in (m1, m2, a, b, c):
        if not is_zero(sp.diff(Q, v).subs(at)):
            raise AssertionError(f"the M-step's closed form does not zero ∂Q/∂{v} in two dimensions")


def _check_weights() -> None:
    r"""With the categorical family's log-partition (K = 3): :math:`-\sum_k N_k v_k + N A(v)` is stationary at
    :math:`\pi_k = N_k / N`."""
    from ..families import FAMILIES

    cat = FAMILIES["categorical"]()  # K = 3
    v1, v2 = cat.natural
    n1, n2, n3 = sp.symbols("n1 n2 n3", positive=True)
    A = cat.log_partition
    n = n1 + n2 + n3
    Q = -(n1 * v1 + n2 * v2) + n * A
    # π_k = N_k / N is v_k = log(N_k / N_3); A is strictly convex, so a stationary point is the only one
    at = {v1: sp.log(n1 / n3), v2: sp.log(n2 / n3)}
    if not all(is_zero(sp.diff(Q, v).subs(at)) for v in (v1, v2)):
        raise AssertionError("the weights' stationary point is not π_k = N_k / N")
