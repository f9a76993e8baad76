r"""Stochastic variational inference for latent Dirichlet allocation as the BLR (Khan & Rue 2023, Sec. 5.3).

LDA: topics :math:`\beta_k \sim \mathrm{Dir}(\eta)` over a vocabulary, proportions
:math:`\theta_d \sim \mathrm{Dir}(\alpha)` per document, an assignment :math:`z_{dn}` per word occurrence.  The
mean-field candidate :math:`q = \prod_k \mathrm{Dir}(\beta_k\mid\lambda_k)\prod_d \mathrm{Dir}(\theta_d\mid\gamma_d)
\prod_{dn}\mathrm{Cat}(z_{dn}\mid\phi_{dn})` has every block in the family of its complete conditional, and the
loss :math:`\ell = -\sum_{d,w,k} n_{dw} z_{dwk}(\log\theta_{dk} + \log\beta_{kw})` is linear in each block's
statistics (:math:`z`, :math:`\log\theta`, :math:`\log\beta`), so each natural gradient is a derivative of the
expected loss in the other blocks' expectations (SymPy, here).  The local blocks take ρ = 1 (iterated to their
joint fixed point, the E-step of Hoffman, Blei & Bach 2010), the global block a stochastic step: the minibatch
sum scaled by :math:`D/|\mathcal B|` and the Robbins–Monro :math:`\rho_t`.
"""

from __future__ import annotations

import sympy as sp

from . import ir
from .derivation import Argument, Assignment, Derivation, Equation, Step
from .errors import DerivationError
from .symbols import Display
from .printing import latex

__all__ = ["derive_lda"]


def derive_lda(approximations, *, function_name: str = "svi_lda_step", title=None, anchor=None) -> Derivation:
    r"""Derive one SVI step for LDA (see the module docstring): ``approximations`` must be ``stochastic``
    (the global block's minibatch) and ``rho=1`` (the local blocks)."""
    from ..families import FAMILIES

    keys = sorted(a.key for a in approximations)
    if keys != ["rho=1", "stochastic"]:
        raise DerivationError("SVI for LDA derives with 'stochastic' (the topics' minibatch step) and 'rho=1' (the "
                              f"documents' local blocks), got {', '.join(keys) or 'none'}")
    anchor = anchor or "svi"
    n, z = sp.Symbol("n_dw", nonnegative=True), sp.Symbol("z_dwk", nonnegative=True)
    log_theta, log_beta = sp.Symbol("log_theta_dk", real=True), sp.Symbol("log_beta_kw", real=True)
    Ez, Elt, Elb = sp.Symbol("phi_dwk", positive=True), sp.Symbol("E_log_theta_dk", real=True), \
        sp.Symbol("E_log_beta_kw", real=True)
    alpha, eta = sp.Symbol("doc_topic_prior", positive=True), sp.Symbol("topic_word_prior", positive=True)
    gamma, lam = sp.Symbol("gamma_dk", positive=True), sp.Symbol("lam", positive=True)
    rho = sp.Symbol("rho", positive=True)
    D, M = sp.Symbol("total_docs", positive=True), sp.Symbol("n_batch", positive=True)  # D and |B|
    loss = -n * z * (log_theta + log_beta)  # one (document, word, topic) entry of ℓ; the priors are in the families
    # E_q over every block: each statistic by its expectation (the loss is linear in each)
    expected = loss.xreplace({z: Ez, log_theta: Elt, log_beta: Elb})
    steps: list[Step] = []

    def step(label, eqs, why, approximate=False):
        steps.append(Step(label, tuple(Equation(a, b, approximate) for a, b in eqs), why, anchor))

    step("Mean field", [(Display("q_lda", "q", "q"), Display("q_lda_rhs", r"q(\beta)\, q(\theta)\, q(z)", "q(β) q(θ) q(z)")),
                        (Display("q_beta", r"q(\beta)", "q(β)"),
                         Display("q_beta_rhs", r"\prod_k \mathrm{Dir}(\beta_k\mid\lambda_k)", "Πₖ Dir(βₖ|λₖ)")),
                        (Display("q_theta", r"q(\theta)", "q(θ)"),
                         Display("q_theta_rhs", r"\prod_d \mathrm{Dir}(\theta_d\mid\gamma_d)", "Π_d Dir(θ_d|γ_d)")),
                        (Display("q_z", "q(z)", "q(z)"),
                         Display("q_z_rhs", r"\prod_{d,n}\mathrm{Cat}(z_{dn}\mid\phi_{dn})", "Π_dn Cat(z_dn|φ_dn)"))],
         "every block in the family of its complete conditional; the priors $\\mathrm{Dir}(\\alpha)$, "
         "$\\mathrm{Dir}(\\eta)$ in their families")
    ell = sp.Symbol("ell_dwk", real=True)
    step("Loss", [(ell, loss), (Display("E_ell", r"\mathbb{E}_q[\ell_{dwk}]", "E_q[ℓ_dwk]"), expected)],
         "$-\\log p(w_{dn}, z_{dn}\\mid\\theta_d, \\beta)$ per (document, word, topic), $n_{dw}$ occurrences; linear in "
         "$z$, $\\log\\theta$ and $\\log\\beta$, so $\\mathbb{E}_q$ replaces each by its expectation")
    # the assignments: categorical, ρ = 1: log φ = −∂E[ℓ]/∂μ_z per occurrence (up to the normaliser)
    log_phi = sp.expand(-sp.diff(expected, Ez) / n)
    step("Assignments, ρ = 1", [(sp.Symbol("log_phi_dwk", real=True), log_phi)],
         "$\\log\\phi \\gets -\\nabla_{\\mu_z}\\mathbb{E}_q[\\ell]$ per occurrence, normalised over $k$")
    # the proportions: Dirichlet, statistic log θ, natural parameter γ − 1, prior α − 1, ρ = 1
    dirichlet = FAMILIES["dirichlet"]()
    if any(sp.expand(nat - (a - 1)) != 0 for nat, a in zip(dirichlet.standard_to_natural, dirichlet.standard[0].symbols)):
        raise AssertionError("the Dirichlet's natural parameter is not α − 1")
    grad_theta = sp.diff(expected, Elt)  # ∂E[ℓ]/∂μ_θ per word; summed over the words of the document
    S_theta = Display("sum_w", r"\sum_w", "Σ_w")
    gamma_rhs = sp.expand((alpha - 1) - S_theta * grad_theta + 1)
    step("Proportions, ρ = 1", [(gamma, gamma_rhs)],
         "$\\gamma_{dk} - 1 \\gets (\\alpha - 1) - \\sum_w \\partial\\mathbb{E}_q[\\ell]/\\partial\\mu_{\\theta}$ "
         "(the Dirichlet's $\\lambda = \\gamma - 1$)")
    e_log = dirichlet.closed_forms["expectation_standard"][0]
    step("Dirichlet expectations", [(Elt, Display("E_log_rhs", r"\psi(\gamma_{dk}) - \psi(\sum_j \gamma_{dj})",
                                                  "ψ(γ_dk) − ψ(Σⱼ γ_dj)")),
                                    (Elb, Display("E_logb_rhs", r"\psi(\lambda_{kw}) - \psi(\sum_v \lambda_{kv})",
                                                  "ψ(λ_kw) − ψ(Σ_v λ_kv)"))],
         f"the family's $\\mu = \\nabla A(\\lambda)$: ${latex(e_log)}$ for the first entry")
    step("Local fixed point", [(Display("locals", r"(\phi_d, \gamma_d)", "(φ_d, γ_d)"),
                                Display("iterate", r"\mathrm{until}\ \frac{1}{K}\sum_k|\Delta\gamma_{dk}| < \epsilon",
                                        "iterated until mean |Δγ_d| < ε"))],
         "each document's two local blocks at $\\rho = 1$ alternate to their joint fixed point (the E-step)")
    # the topics: global, stochastic: the minibatch sum scaled by D/|B|
    grad_beta = sp.diff(expected, Elb)
    stats = sp.Symbol("S_kw", nonnegative=True)  # Σ_{d ∈ B} n_dw φ_dwk
    if sp.expand(-grad_beta - n * Ez) != 0:
        raise AssertionError("−∂E[ℓ]/∂E[log β] is not n φ")
    natural = (1 - rho) * (lam - 1) + rho * ((eta - 1) + D / M * stats)
    lam_new = sp.Symbol("lam_new", positive=True)
    textbook = (1 - rho) * lam + rho * (eta + D / M * stats)
    if sp.expand(natural + 1 - textbook) != 0:
        raise AssertionError("the −1 of the Dirichlet's natural parameter does not cancel")
    step("Topics, stochastic", [(lam_new - 1, natural), (stats, Display("S_rhs", r"\sum_{d\in\mathcal{B}} n_{dw}\phi_{dwk}",
                                                                         "Σ_(d∈B) n_dw φ_dwk"))],
         "$\\lambda - 1 \\gets (1-\\rho_t)(\\lambda - 1) + \\rho_t\\big((\\eta - 1) - \\tfrac{D}{|\\mathcal{B}|}"
         "\\sum_{d\\in\\mathcal{B}}\\partial\\mathbb{E}_q[\\ell]/\\partial\\mu_\\beta\\big)$", approximate=True)
    step("Textbook form", [(lam_new, textbook)],
         "Hoffman, Blei and Bach (2010), online LDA with $\\rho_t = (\\tau_0 + t)^{-\\kappa}$ (the $-1$'s cancel, checked)")
    oracles = (
        ir.Comment("E[log β_kw] = ψ(λ_kw) − ψ(Σ_v λ_kv); φ is never stored: only Σ_w n_dw φ_dwk and Σ_d n_dw φ_dwk "
                   "enter"),
        ir.LogMeanParameter("exp_elog_beta", "lam"),
        ir.Comment("the local blocks at ρ = 1, every document until its own γ_d changes by less than mean_change_tol"),
        ir.LocalFixedPoint("gamma", "exp_elog_beta", "counts", "doc_topic_prior", "max_doc_update_iter",
                           "mean_change_tol"),
        ir.Contraction("S_kw", "kw", ir.Operand("exp_elog_theta", "dk"), ir.Operand("counts", "dw", "norm_phi"),
                       times="exp_elog_beta", note="Σ_(d∈B) n_dw φ_dwk"),
        ir.Count(("n_batch",), "counts", (-2,)),
    )
    args = (Argument("lam", "data", "topic parameters λ, (..., K, V), positive"),
            Argument("gamma", "data", "initial document parameters γ, (..., n_batch, K), positive"),
            Argument("counts", "data", "word counts n_dw of the minibatch, (..., n_batch, V)"),
            Argument("rho", "scalar", "learning rate ρ_t in (0, 1], a scalar"),
            Argument("doc_topic_prior", "scalar", "α > 0"),
            Argument("topic_word_prior", "scalar", "η > 0"),
            Argument("total_docs", "scalar", "D, the number of documents of the corpus"),
            Argument("max_doc_update_iter", "int", "cap on the local iterations"),
            Argument("mean_change_tol", "scalar", "the local stopping rule: the mean absolute change of γ_d below it"))
    name = title or "Stochastic VI (latent Dirichlet allocation)"
    update = (Equation(lam_new, textbook),)
    return Derivation(
        title=name, family="dirichlet+categorical", approximations=tuple(approximations), steps=tuple(steps),
        natural_update=(Equation(lam_new - 1, natural),), update=update, anchor=anchor, function_name=function_name,
        summary=f"One BLR step: {name}, the documents' local blocks then the topics.", arguments=args,
        oracles=oracles, assignments=(Assignment(lam_new, textbook, "λ ← (1 − ρ)λ + ρ(η + (D/|B|) S)"),),
        outputs=(lam_new, sp.Symbol("gamma", positive=True)), dims=(), elementwise=False, extra={},
    )
