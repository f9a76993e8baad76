r"""The BLR for a mixture of Gaussians, one component at a time (Khan & Rue 2023, Sec. 3.2).

The mixture :math:`q(\theta) = \sum_k \pi_k\,\mathcal N(\theta\mid m_k, S_k^{-1})` is the marginal of the
joint :math:`q(\theta, z) = \pi_z\,\mathcal N(\theta\mid m_z, S_z^{-1})`, a *minimal conditional*
exponential family (Lin, Khan & Schmidt 2019) with component parameters
:math:`\lambda_k = (S_k m_k, -\tfrac12 S_k)` and weight parameters :math:`v_k = \log(\pi_k/\pi_K)`.  Its
natural gradients are the single Gaussian's, applied to :math:`f = \bar\ell + \log q` under the
component :math:`q_k` (the weight :math:`\pi_k` cancels):

.. math::

    S_k \leftarrow S_k + \rho\,\mathbb{E}_{q_k}[\nabla^2 f], \qquad
    m_k \leftarrow m_k - \rho\,S_k^{-1}\mathbb{E}_{q_k}[\nabla f], \qquad
    v_k \leftarrow v_k - \rho\,(\mathbb{E}_{q_k}[f] - \mathbb{E}_{q_K}[f]).

The terms of :math:`\log q` couple the components.  The *responsibility* approximation (components
that do not overlap, :math:`q(k\mid\theta) \approx 1` under :math:`q_k`) removes them:
:math:`\mathbb{E}_{q_k}[\nabla\log q] \approx 0`, :math:`\mathbb{E}_{q_k}[\nabla^2\log q] \approx -S_k` and
:math:`\mathbb{E}_{q_k}[\log q] \approx \log\pi_k + \tfrac12\log\det S_k - \tfrac D2\log 2\pi e`; with the
delta method each component runs damped Newton, and the weights go to the Laplace evidences
:math:`\pi_k \propto e^{-\bar\ell(m_k)}\det S_k^{-1/2}` (checked here at the fixed point).
"""

from __future__ import annotations

import sympy as sp
from sympy import MatrixSymbol

from . import ir
from .approximations import DeltaMethod, FixedCovariance, Responsibility, StepSize, StochasticGradient
from .derivation import Argument, Assignment, Derivation, Equation, Step
from .algebra import expand_terms, is_zero
from .errors import DerivationError
from .losses import OracleLoss
from .printing import equation_line
from .roles import Role, Terms, by_name
from .symbols import RHO, D, Display

__all__ = ["derive_mixture"]


def derive_mixture(loss, approximations, *, rule: str = "blr", function_name: str = "blr_step", title=None,
                   anchor=None) -> Derivation:
    r"""Derive the BLR step of a mixture of K Gaussians (see the module docstring).

    ``loss`` must be an :class:`OracleLoss` (the emitted step calls ``loss``, ``grad`` and ``hess``).
    Two variants: ``"responsibility"`` and ``"delta"`` (multimodal optimisation, Sec. 3.2: each at its
    component's mean), or no approximation at all (non-conjugate VI, Sec. 5.4: every expectation under
    :math:`q_k` by Monte Carlo, the mixture's own :math:`\log q` included, and a step size
    :math:`\rho_\pi` of the weights of their own); ``rule="improved"`` keeps every :math:`S_k` positive
    definite (Lin, Schmidt & Khan 2020).
    """
    if any(isinstance(a, FixedCovariance) for a in approximations):  # a spike and a slab per weight: the slab means
        return derive_dropout(loss, approximations, function_name=function_name, title=title, anchor=anchor)
    if not isinstance(loss, OracleLoss):
        raise DerivationError("the gaussian-mixture family takes an oracle loss (its value, gradient and Hessian "
                              "at each component's mean)")
    given = {type(a) for a in approximations}
    exact = not given & {Responsibility, DeltaMethod}
    if not exact and not {Responsibility, DeltaMethod} <= given:
        raise DerivationError("the gaussian-mixture family derives with 'responsibility' and 'delta' (the "
                              "multimodal optimisation of Sec. 3.2), or with neither (non-conjugate VI, Sec. 5.4, "
                              "by Monte Carlo): the delta method leaves E_q[log q], the responsibility "
                              "approximation alone leaves E_q[ℓ̄]")
    if rule == "improved" and not exact:
        raise DerivationError("the improved rule is derived for the Monte-Carlo mixture (no approximations)")
    m, S = MatrixSymbol("m_k", D, 1), MatrixSymbol("S_k", D, D)
    m_new, S_new = MatrixSymbol("m_k_new", D, 1), MatrixSymbol("S_k_new", D, D)
    lam1, lam1_new = MatrixSymbol("lam_k_1", D, 1), MatrixSymbol("lam_k_1_new", D, 1)
    v, v_new, v_K = sp.Symbol("v_k", real=True), sp.Symbol("v_k_new", real=True), sp.Symbol("v_K", real=True)
    terms = Terms({
        Role.COMPONENT_EXPECTED_GRADIENT: MatrixSymbol("E_g_k", D, 1),
        Role.COMPONENT_EXPECTED_HESSIAN: MatrixSymbol("E_H_k", D, D),
        Role.COMPONENT_EXPECTED_LOSS: sp.Symbol("E_loss_k", real=True), Role.LAST_EXPECTED_LOSS: sp.Symbol("E_loss_K", real=True),
        Role.COMPONENT_GRADIENT: MatrixSymbol("g_k", D, 1), Role.COMPONENT_HESSIAN: MatrixSymbol("H_k", D, D),
        Role.COMPONENT_LOSS: sp.Symbol("loss_m", real=True), Role.LAST_LOSS: sp.Symbol("loss_m_K", real=True),
        Role.MIXTURE_GRADIENT_LOG_Q: MatrixSymbol("E_glogq", D, 1), Role.MIXTURE_HESSIAN_LOG_Q: MatrixSymbol("E_Hlogq", D, D),
        Role.MIXTURE_LOG_Q: sp.Symbol("E_logq", real=True), Role.LAST_MIXTURE_LOG_Q: sp.Symbol("E_logq_K", real=True),
        Role.PRECISION: S, Role.WEIGHT: v, Role.LAST_WEIGHT: v_K, Role.LOG_DET: sp.Symbol("logdet_S", real=True),
        Role.LAST_LOG_DET: sp.Symbol("logdet_S_K", real=True), Role.STEP_SIZE: RHO,
    })
    steps = []

    def step(label, eqs, why, anchor_, approximate=False):
        steps.append(Step(label, tuple(Equation(a, b, approximate) for a, b in eqs), why, anchor_))


    step("Candidate posterior", [(lam1, S * m), (v, Display("log_ratio", r"\log(\pi_k/\pi_K)", "log(πₖ/π_K)"))],
         "$q(\\theta) = \\sum_k \\pi_k\\mathcal{N}(m_k, S_k^{-1})$ as the joint $q(\\theta, z)$: "
         "$\\lambda_k = (S_k m_k, -\\tfrac12 S_k)$ and $v_k = \\log(\\pi_k/\\pi_K)$", "multimodal")
    Egf, EHf = MatrixSymbol("E_grad_f", D, 1), MatrixSymbol("E_hess_f", D, D)
    Ef, Ef_K = sp.Symbol("E_f", real=True), sp.Symbol("E_f_K", real=True)
    S_rhs = S + RHO * EHf
    lam1_rhs = S * m - RHO * (Egf - EHf * m)
    rho_v = sp.Symbol("rho_pi", positive=True) if exact else RHO
    v_rhs = v - rho_v * (Ef - Ef_K)
    step("Bayesian learning rule", [(S_new, S_rhs), (lam1_new, lam1_rhs), (v_new, v_rhs)],
         "the natural gradient of the joint, per component, is the Gaussian one of "
         "$f = \\bar\\ell + \\log q$ under $q_k$ (Bonnet's and Price's theorems; $\\pi_k$ cancels)"
         + (", the weights with a step $\\rho_\\pi$ of their own" if exact else ""),
         "ncvi" if exact else "multimodal")
    split = {Egf: terms[Role.COMPONENT_EXPECTED_GRADIENT] + terms[Role.MIXTURE_GRADIENT_LOG_Q],
             EHf: terms[Role.COMPONENT_EXPECTED_HESSIAN] + terms[Role.MIXTURE_HESSIAN_LOG_Q],
             Ef: terms[Role.COMPONENT_EXPECTED_LOSS] + terms[Role.MIXTURE_LOG_Q],
             Ef_K: terms[Role.LAST_EXPECTED_LOSS] + terms[Role.LAST_MIXTURE_LOG_Q]}
    step("Split f", list(split.items()), "$f = \\bar\\ell + \\log q$", "multimodal")
    exprs = {S_new: expand_terms(S_rhs.subs(split)), lam1_new: expand_terms(lam1_rhs.subs(split)),
             v_new: sp.expand(v_rhs.subs(split))}
    step("Substitute", list(exprs.items()), "the split inside the rule", "multimodal")
    if exact:
        return _monte_carlo_mixture(locals(), rule, function_name, title, anchor)
    for a in approximations:
        if isinstance(a, StepSize):
            subs = {RHO: a.value}
        else:
            subs = {k: w for k, w in a.substitutions(terms).items() if any(e.has(k) for e in exprs.values())}
        if not subs:
            raise DerivationError(f"{a.name} has nothing to rewrite in this derivation")
        exprs = {k: (expand_terms(e.subs(subs)) if k != v_new else sp.expand(e.subs(subs))) for k, e in exprs.items()}
        step(a.label, [*subs.items(), *exprs.items()], f"${a.statement}$", a.anchor,
             approximate=not (isinstance(a, StepSize) or a.exact))
    for left in (Role.COMPONENT_EXPECTED_GRADIENT, Role.COMPONENT_EXPECTED_HESSIAN, Role.COMPONENT_EXPECTED_LOSS,
                 Role.MIXTURE_GRADIENT_LOG_Q, Role.MIXTURE_HESSIAN_LOG_Q, Role.MIXTURE_LOG_Q):
        if any(e.has(terms[left]) for e in exprs.values()):
            raise DerivationError(f"{left.description} is left in the update: add the approximation that removes it")
    S_out, lam1_out, v_out = exprs[S_new], exprs[lam1_new], exprs[v_new]
    step_size = next((a.value for a in approximations if isinstance(a, StepSize)), RHO)
    grad_bar = terms[Role.COMPONENT_GRADIENT]
    textbook = m - step_size * sp.Inverse(S_new) * grad_bar
    residual = expand_terms(expand_terms(S_new * textbook).subs(S_new, S_out) - lam1_out)
    if not is_zero(residual):
        raise AssertionError(f"the mixture's textbook form does not follow: residual {residual}")
    v_tidy = sp.collect(v_out.subs(v_K, 0), [v], func=sp.factor)
    step("Textbook form", [(S_new, S_out), (m_new, textbook), (v_new, v_tidy)],
         "per component damped Newton ($S_{k,t+1} m_{k,t+1} = \\lambda_{k,1,t+1}$); $v_K = 0$", "multimodal")
    # the fixed point of the weights: v_k = -(ℓ̄(m_k) - ℓ̄(m_K)) - ½(log det S_k - log det S_K), i.e. the Laplace
    # evidence π_k ∝ exp(-ℓ̄(m_k)) det(S_k)^(-1/2) (v_K = 0 by definition)
    fixed = -(terms[Role.COMPONENT_LOSS] - terms[Role.LAST_LOSS]) - (terms[Role.LOG_DET] - terms[Role.LAST_LOG_DET]) / 2
    if sp.simplify(v_out.subs({v: fixed, v_K: 0}) - fixed) != 0:
        raise AssertionError("the Laplace evidences are not the fixed point of the weight update")
    evidence = Display("laplace", r"\frac{1}{Z}\, e^{-\bar\ell(m_k)} (\det S_k)^{-1/2}",
                       "e^(-ℓ̄(mₖ)) (det Sₖ)^(-1/2) / Z")
    steps.append(Step("Fixed point", (Equation(Display("pi_k", r"\pi_k", "πₖ"), evidence),),
                      "$v_{k,t+1} = v_{k,t}$ where $\\pi_k$ is the Laplace evidence of mode $k$, $Z$ their sum "
                      "(checked)", "multimodal"))
    update = (Equation(S_new, S_out), Equation(m_new, textbook), Equation(v_new, v_tidy))

    m_ = sp.Symbol("m")
    oracles = (ir.Comment("every component's mean m_k: m (..., K, D), S (..., K, D, D), v (..., K)"),
               ir.OracleCall(("g",), "grad", m_), ir.OracleCall(("H",), "hess", m_),
               ir.OracleCall(("loss_m",), "loss", m_), ir.Select(("loss_m_K",), ("loss_m",)),
               ir.LogDet("logdet_S", "S"), ir.Select(("logdet_S_K",), ("logdet_S",)))
    unit = any(isinstance(a, StepSize) for a in approximations)
    args = [Argument("m", "vector", "means m_k of the components, (..., K, D)"),
            Argument("S", "matrix", "precisions S_k, (..., K, D, D), symmetric positive definite"),
            Argument("v", "data", "log-weights v_k = log(π_k/π_K), (..., K), v_K = 0")]
    if not unit:
        args.append(Argument("rho", "scalar", "learning rate ρ in (0, 1], scalar or (..., 1)"))
    args += [Argument("grad", "callable", "callable, m (..., K, D) -> ∇ℓ̄(m_k) (..., K, D)"),
             Argument("hess", "callable", "callable, m (..., K, D) -> ∇²ℓ̄(m_k) (..., K, D, D)"),
             Argument("loss", "callable", "callable, m (..., K, D) -> ℓ̄(m_k) (..., K)")]
    assignments = tuple(Assignment(eq.lhs, eq.rhs, equation_line(eq)) for eq in update)
    return Derivation(
        title=title or "Multimodal optimisation (mixture of Gaussians)", family="gaussian-mixture",
        approximations=tuple(approximations), steps=tuple(steps),
        natural_update=(Equation(S_new, S_rhs), Equation(lam1_new, lam1_rhs), Equation(v_new, v_rhs)),
        update=update, anchor=anchor or "multimodal", function_name=function_name,
        summary=f"One BLR step: {title or 'multimodal optimisation'}, every component at once.",
        arguments=tuple(args), oracles=oracles, assignments=assignments, outputs=(m_new, S_new, v_new),
        dims=((D, "m.shape[-1]"),), elementwise=False, extra={"terms": by_name(terms), "roles": terms, "loss": loss},
    )



def _log_mixture_identities(gradient=None, hessian=None):
    r"""Check, in one dimension with two components, the derivatives of :math:`\log q` that the emitted
    code evaluates: :math:`\nabla\log q = -\sum_j r_j S_j(\theta - m_j)` and
    :math:`\nabla^2\log q = \sum_j r_j[(S_j(\theta - m_j))^2 - S_j] - (\nabla\log q)^2`,
    :math:`r_j = \pi_j\mathcal N_j(\theta)/q(\theta)`.

    ``gradient(r, d, s)`` and ``hessian(r, d, s, g)`` (responsibilities, the components' :math:`\theta - m_j`
    and precisions, and the gradient) are the formulas checked, by default those above; an AssertionError
    when one does not follow. It does not depend on a request, so the mixture's derivation does not run it:
    tests/derive/test_self_checks.py does, once a run.
    """
    gradient = gradient or (lambda r, d, s: -sum(rj * sj * dj for rj, dj, sj in zip(r, d, s)))
    hessian = hessian or (lambda r, d, s, g: sum(rj * ((sj * dj) ** 2 - sj) for rj, dj, sj in zip(r, d, s)) - g**2)
    th = sp.Symbol("theta", real=True)
    pis, ms, ss = sp.symbols("pi_1:3", positive=True), sp.symbols("m_1:3", real=True), sp.symbols("s_1:3", positive=True)
    dens = [p * sp.sqrt(s_ / (2 * sp.pi)) * sp.exp(-s_ * (th - m_) ** 2 / 2) for p, m_, s_ in zip(pis, ms, ss)]
    q = sum(dens)
    r = [d / q for d in dens]
    d = [th - m_ for m_ in ms]
    g = gradient(r, d, ss)
    H = hessian(r, d, ss, g)
    for formula, exact in ((g, sp.diff(sp.log(q), th)), (H, sp.diff(sp.log(q), th, 2))):
        if not is_zero(formula - exact):
            raise AssertionError("the derivatives of log q do not follow")


def _monte_carlo_mixture(v_, rule, function_name, title, anchor) -> Derivation:
    """The non-conjugate VI branch of :func:`derive_mixture` (``v_``: its local variables)."""
    from .gaussian import StepBuilder, improved_rule

    steps, terms, exprs = v_["steps"], v_["terms"], v_["exprs"]
    S, m, S_new, m_new, lam1_new, v, v_new = (v_[k] for k in ("S", "m", "S_new", "m_new", "lam1_new", "v", "v_new"))
    # the one-dimensional check of these derivatives (_log_mixture_identities) does not depend on the request:
    # the tests run it
    glogq = Display("glogq", r"\nabla\log q(\theta)", "∇log q(θ)")
    Hlogq = Display("Hlogq", r"\nabla^2\log q(\theta)", "∇²log q(θ)")
    steps.append(Step("Mixture log-density", (
        Equation(glogq, Display("glogq_rhs", r"-\sum_j r_j(\theta) S_j(\theta - m_j)", "-Σⱼ rⱼ(θ) Sⱼ(θ - mⱼ)")),
        Equation(Hlogq, Display("Hlogq_rhs", r"\sum_j r_j(\theta)\,[S_j d_j d_j^\top S_j - S_j] - "
                                r"\nabla\log q\,\nabla\log q^\top", "Σⱼ rⱼ(θ)[SⱼdⱼdⱼᵀSⱼ - Sⱼ] - ∇log q ∇log qᵀ")),
        Equation(Display("r_j", r"r_j(\theta)", "rⱼ(θ)"),
                 Display("resp", r"\pi_j\mathcal{N}(\theta\mid m_j, S_j^{-1})/q(\theta)", "πⱼ N(θ|mⱼ,Sⱼ⁻¹)/q(θ)"))),
        "the chain rule through $\\log\\sum_j$, with $d_j = \\theta - m_j$ (checked in one dimension)", "ncvi"))
    steps.append(Step("Monte Carlo", tuple(
        Equation(terms[role], Display("mc_" + n, rf"\frac{{1}}{{K}}\sum_{{s=1}}^K {tex}(\theta_{{k,s}})"), True)
        for role, n, tex in ((Role.COMPONENT_EXPECTED_GRADIENT, "E_g_k", r"\nabla\bar\ell"),
                             (Role.COMPONENT_EXPECTED_HESSIAN, "E_H_k", r"\nabla^2\bar\ell"),
                             (Role.MIXTURE_GRADIENT_LOG_Q, "E_glogq", r"\nabla\log q"),
                             (Role.MIXTURE_HESSIAN_LOG_Q, "E_Hlogq", r"\nabla^2\log q"),
                             (Role.COMPONENT_EXPECTED_LOSS, "E_loss", r"\bar\ell"), (Role.MIXTURE_LOG_Q, "E_logq", r"\log q"))),
        "no approximation removes the expectations: $K$ draws $\\theta_{k,s} = m_k + L_k^{-\\top}\\epsilon_s$, "
        "$S_k = L_k L_k^\\top$, from each component", "monte-carlo", ))
    grad_bar = expand_terms(terms[Role.COMPONENT_EXPECTED_GRADIENT] + terms[Role.MIXTURE_GRADIENT_LOG_Q])
    S_rhs = exprs[S_new]
    b = StepBuilder(elementwise=False)
    if rule == "improved":
        update = list(improved_rule(b, S, m, S_rhs, grad_bar, RHO, S_new, m_new))
        steps.extend(b.steps)
    else:
        textbook = m - RHO * sp.Inverse(S_new) * grad_bar
        residual = expand_terms(expand_terms(S_new * textbook).subs(S_new, S_rhs) - exprs[lam1_new])
        if not is_zero(residual):
            raise AssertionError(f"the mixture's textbook form does not follow: residual {residual}")
        update = [(S_new, S_rhs), (m_new, textbook)]
    v_out = sp.collect(exprs[v_new].subs(terms[Role.LAST_WEIGHT], 0), [v], func=sp.factor)
    update.append((v_new, v_out))
    if rule == "improved":
        steps.append(Step("Weights", (Equation(v_new, v_out),), "$v_K = 0$", "ncvi"))
    else:
        steps.append(Step("Textbook form", tuple(Equation(a, b_) for a, b_ in update),
                          "per component the Gaussian BLR of $f$; $v_K = 0$", "ncvi"))
    update = tuple(Equation(a, b_) for a, b_ in update)
    th = sp.Symbol("theta")
    oracles = (
        ir.Comment("θ_{k,s} = m_k + L_k^{-T} ε_s with S_k = L_k L_kᵀ: (n_samples, ..., K, D)"),
        ir.Cholesky("L", "S"), ir.Sample("eps", "normal", "m"), ir.Reparameterise("theta", "m", "eps", "cholesky", "L"),
        ir.Comment("log π_j N(θ_{k,s} | m_j, S_j⁻¹) for every pair (k, j): (n_samples, ..., K, K)"),
        ir.MixtureLogDensity("theta", "m", "S", "v", "L"),
        ir.Comment("the expectations under each component: averages over its samples"),
        ir.OracleCall(("E_g_k",), "grad", th, average=True), ir.OracleCall(("E_H_k",), "hess", th, average=True),
        ir.OracleCall(("E_loss_k",), "loss", th, average=True),
        ir.Alias("E_glogq", "glogq", average=True), ir.Alias("E_Hlogq", "Hlogq", average=True),
        ir.Alias("E_logq", "log_q", average=True),
        ir.Select(("E_loss_K", "E_logq_K"), ("E_loss_k", "E_logq")),
    )
    args = [Argument("m", "vector", "means m_k of the components, (..., K, D)"),
            Argument("S", "matrix", "precisions S_k, (..., K, D, D), symmetric positive definite"),
            Argument("v", "data", "log-weights v_k = log(π_k/π_K), (..., K), v_K = 0"),
            Argument("rho", "scalar", "learning rate ρ in (0, 1] of the components, scalar or (..., 1)"),
            Argument("rho_pi", "data", "learning rate ρ_π > 0 of the weights, scalar or (..., 1)"),
            Argument("grad", "callable", "callable, θ (n_samples, ..., K, D) -> ∇ℓ̄(θ) (n_samples, ..., K, D)"),
            Argument("hess", "callable", "callable, θ (n_samples, ..., K, D) -> ∇²ℓ̄(θ) (..., K, D, D)"),
            Argument("loss", "callable", "callable, θ (n_samples, ..., K, D) -> ℓ̄(θ) (n_samples, ..., K)"),
            Argument("n_samples", "int", "number of Monte-Carlo samples per component"),
            Argument("rng", "rng", "numpy.random.Generator for the Monte-Carlo samples")]
    assignments = tuple(Assignment(eq.lhs, eq.rhs, equation_line(eq)) for eq in update)
    name = title or "Non-conjugate VI (mixture of Gaussians)"
    return Derivation(
        title=name, family="gaussian-mixture", approximations=tuple(v_["approximations"]), steps=tuple(steps),
        natural_update=(Equation(S_new, v_["S_rhs"]), Equation(lam1_new, v_["lam1_rhs"]),
                        Equation(v_new, v_["v_rhs"])),
        update=update, anchor=anchor or "ncvi", function_name=function_name,
        summary=f"One BLR step: {name}, every component at once.", arguments=tuple(args), oracles=oracles,
        assignments=assignments, outputs=(m_new, S_new, v_new), dims=((D, "m.shape[-1]"),), elementwise=False,
        extra={"terms": by_name(terms), "roles": terms, "loss": v_["loss"]},
    )


def derive_dropout(loss, approximations, *, function_name="blr_step", title=None, anchor=None) -> Derivation:
    r"""Dropout as the BLR with a spike-and-slab mixture per weight (Khan & Rue 2023, Sec. 4.3).

    Each weight has :math:`q(\theta_j) = p\,\mathcal N(m_j, \sigma^2) + (1-p)\,\mathcal N(0, \sigma_0^2)`: a slab
    at the learned mean and a spike at zero, with the keep probability p and both variances fixed, so only
    the slab means move (the fixed-covariance BLR of each component, Sec. 1.3).  The mixture's natural
    gradient is the component's expectation of :math:`\nabla f`, f = ℓ̄ + log q, estimated from a sample of q
    weighted by :math:`r_j(\theta)/p`; the responsibility approximation reads the mask :math:`z_j` as
    :math:`r_j`, the delta method collapses both components to points (θ = z ⊙ m), and one mask and one
    minibatch estimate the rest: the step of DropConnect SGD, :math:`m \leftarrow m - \rho\,(z/p)\odot\hat g(z\odot m)`,
    and with :math:`\tilde m = p\,m` inverted dropout (a change of variables, checked).
    """

    given = {type(a) for a in approximations}
    for needed in (FixedCovariance(), Responsibility(), StochasticGradient()):
        if type(needed) not in given:
            raise DerivationError(f"dropout derives with fixed-covariance, responsibility and stochastic (and delta for "
                                  f"DropConnect itself); {needed.key!r} is missing")
    delta = DeltaMethod in given  # without it the slab keeps its variance σ²: Gaussian noise on the kept weights
    if not isinstance(loss, OracleLoss):
        raise DerivationError("dropout takes an oracle loss (the minibatch gradient at the masked weights)")

    m, m_new = sp.Symbol("m", real=True), sp.Symbol("m_new", real=True)
    p, z = sp.Symbol("keep_prob", positive=True), sp.Symbol("z_mask", nonnegative=True)
    n, M = sp.Symbol("n_data", integer=True, positive=True), sp.Symbol("n_batch", integer=True, positive=True)
    E_slab = Display("E_slab", r"\mathbb{E}_{q_{\mathrm{slab}}}[\nabla_j f]", "E_slab[∇_j f]")
    E_q = Display("E_q_w", r"\mathbb{E}_{q}\!\left[\frac{r_j(\theta)}{p}\nabla_j f(\theta)\right]", "E_q[r_j/p ∇_j f]")
    g_masked = sp.Symbol("g_masked" if delta else "g_noise", real=True)
    steps = [
        Step("Candidate posterior", (Equation(Display("q_j", r"q(\theta_j)", "q(θ_j)"),
                                              Display("spike_slab", r"p\,\mathcal{N}(m_j, \sigma^2) + (1 - p)\,"
                                                      r"\mathcal{N}(0, \sigma_0^2)", "p N(m_j, σ²) + (1 - p) N(0, σ₀²)")),),
             "a spike and a slab per weight: keep probability $p$ and both variances fixed, the slab means learned",
             "dropout"),
        Step("Bayesian learning rule", (Equation(m_new, m - RHO * E_slab),),
             "the slab's natural gradient with fixed covariance: its natural parameter is its mean (Sec. 1.3); "
             "$f = \\bar\\ell + \\log q$", "dropout"),
        Step("Importance weights", (Equation(E_slab, E_q),),
             "$\\mathbb{E}_{q_k}[h] = \\mathbb{E}_q[h\\, q_k/q]$ and $q_k/q = r_k/\\pi_k$", "mixture"),
    ]
    resp = next(a for a in approximations if isinstance(a, Responsibility))
    steps.append(Step(resp.label, (Equation(Display("r_j", r"r_j(\theta)", "r_j(θ)"), z, True),
                                   Equation(E_slab, Display("E_z", r"\mathbb{E}_{q}\!\left[\frac{z_j}{p}"
                                                                   r"\nabla_j\bar\ell(\theta)\right]",
                                                            "E_q[z_j/p ∇_j ℓ̄(θ)]"), True)),
                      f"${resp.statement}$: the sample came from the slab iff its mask $z_j = 1$, and "
                      "$\\nabla\\log q \\approx 0$ under a component", resp.anchor))
    if delta:
        steps.append(Step("Delta method", (Equation(Display("theta_mask", r"\theta", "θ"),
                                                    Display("zm", r"z \odot m", "z ⊙ m"), True),),
                          "$\\sigma, \\sigma_0 \\to 0$: each component at its mean", "delta-method"))
        at = Display("gB", r"\hat g_{\mathcal{B}}(z \odot m)", "ĝ_B(z ⊙ m)")
    else:
        steps.append(Step("Slab sample", (Equation(Display("theta_mask", r"\theta", "θ"),
                                                   Display("zm_noise", r"z \odot (m + \sigma\varepsilon)",
                                                           "z ⊙ (m + σε)")),),
                          "no delta method for the slab: its sample $m + \\sigma\\varepsilon$, "
                          "$\\varepsilon \\sim \\mathcal{N}(0, I)$, the spike at zero ($\\sigma_0 \\to 0$); "
                          "$\\sigma \\to 0$ gives DropConnect", "dropout"))
        at = Display("gB_noise", r"\hat g_{\mathcal{B}}(z \odot (m + \sigma\varepsilon))", "ĝ_B(z ⊙ (m + σε))")
    update = m - RHO * (n / M) * (z / p) * g_masked
    steps.append(Step("Stochastic gradient", (Equation(g_masked, at) if delta else Equation(Display(
        "g_noise_shown", r"\hat g", "ĝ"), at), Equation(m_new, update, True)),
                      "one mask $z \\sim \\mathrm{Bernoulli}(p)$" + ("" if delta else " and one $\\varepsilon$")
                      + " and a minibatch of $M$ of the $N$ terms", "stochastic-gradient"))
    # inverted dropout: m̃ = p m, checked as a change of variables
    mt, mt_new = sp.Symbol("m_tilde", real=True), sp.Symbol("m_tilde_new", real=True)
    inverted = mt - RHO * (n / M) * z * g_masked
    if sp.simplify(inverted.subs(mt, p * m) - p * update) != 0:
        raise AssertionError("inverted dropout is not the change of variables m̃ = p m")
    steps.append(Step("Textbook form", (Equation(m_new, update), Equation(mt_new, inverted)),
                      ("" if delta else "with Gaussian noise $\\sigma\\varepsilon$ on the kept weights: ") +
                      "DropConnect SGD with step $\\rho N/(Mp)$; with $\\tilde m = p\\,m$ (checked), inverted dropout "
                      "with step $\\rho N p/M$: its gradient $(z/p)\\odot\\hat g$ at the forward pass $z \\odot \\tilde m / p$",
                      "dropout"))
    upd = (Equation(m_new, update),)
    z_mask, m_sym = sp.Symbol("z_mask"), sp.Symbol("m")
    if delta:
        oracles = (ir.Comment("one mask z_j ~ Bernoulli(p) per weight, shared by the batch of problems; the minibatch "
                              "gradient at z ⊙ m"),
                   ir.Sample("z_mask", "bernoulli", "m", draws=None, prob="keep_prob"),
                   ir.OracleCall(("g_masked",), "grad_batch", sp.Mul(z_mask, m_sym, evaluate=False)))
    else:
        slab = sp.Add(m_sym, sp.Mul(sp.Symbol("slab_sd"), sp.Symbol("eps"), evaluate=False), evaluate=False)
        oracles = (ir.Comment("one mask z_j ~ Bernoulli(p), then one ε_j ~ N(0, 1) per weight, shared by the batch of "
                              "problems;\nthe minibatch gradient at the slab's sample z ⊙ (m + σε)"),
                   ir.Sample("z_mask", "bernoulli", "m", draws=None, prob="keep_prob"),
                   ir.Sample("eps", "normal", "m", draws=None),
                   ir.OracleCall(("g_noise",), "grad_batch", sp.Mul(z_mask, slab, evaluate=False)))
    args = (Argument("m", "vector", "slab means m_t, (..., D)"),
            Argument("rho", "scalar", "learning rate ρ in (0, 1], scalar or (...)"),
            Argument("keep_prob", "scalar", "keep probability p in (0, 1]"),
            *(() if delta else (Argument("slab_sd", "scalar", "the slab's standard deviation σ ≥ 0"),)),
            Argument("grad_batch", "callable", "callable, θ (..., D) -> sum of the minibatch gradients (..., D)"),
            Argument("n_data", "int", "number N of terms in the loss"),
            Argument("n_batch", "int", "number M of terms in the minibatch"),
            Argument("rng", "rng", "numpy.random.Generator for the masks"))
    name = title or "Dropout"
    return Derivation(
        title=name, family="gaussian-mixture", approximations=tuple(approximations), steps=tuple(steps),
        natural_update=(Equation(m_new, m - RHO * E_slab),), update=upd, anchor=anchor or "dropout",
        function_name=function_name, summary=f"One BLR step: {name}, every weight at once.", arguments=args,
        oracles=oracles, assignments=tuple(Assignment(e.lhs, e.rhs, equation_line(e)) for e in upd), outputs=(m_new,),
        dims=(), elementwise=True, extra={},
    )
