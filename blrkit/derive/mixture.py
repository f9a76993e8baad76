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

from .approximations import Approximation, DeltaMethod, StepSize
from .derivation import Argument, Assignment, Derivation, Equation, Step
from .gaussian import RHO, DerivationError, _expand, _is_zero
from .losses import D, OracleLoss

__all__ = ["derive_mixture"]


def derive_mixture(loss, approximations, *, function_name: str = "blr_step", title=None,
                   anchor=None) -> Derivation:
    """Derive the BLR step of a mixture of K Gaussians (see the module docstring).

    ``loss`` must be an :class:`OracleLoss` (the emitted step calls ``loss``, ``grad`` and ``hess`` at
    each component's mean); ``approximations`` must remove the mixture's own terms
    (``"responsibility"``) and the expectations (``"delta"``): the exact Monte-Carlo version is the
    non-conjugate VI of Sec. 5.4, not derived yet.
    """
    keys = [a.key for a in approximations]
    if not isinstance(loss, OracleLoss):
        raise DerivationError("the gaussian-mixture family takes an oracle loss (its value, gradient and Hessian "
                              "at each component's mean)")
    if "responsibility" not in keys or "delta" not in keys:
        raise DerivationError("the gaussian-mixture family derives with 'responsibility' and 'delta' (the "
                              "multimodal optimisation of Sec. 3.2); E_q[log q] without them needs Monte Carlo "
                              "over the mixture, not derived yet")
    m, S = MatrixSymbol("m_k", D, 1), MatrixSymbol("S_k", D, D)
    m_new, S_new = MatrixSymbol("m_k_new", D, 1), MatrixSymbol("S_k_new", D, D)
    lam1, lam1_new = MatrixSymbol("lam_k_1", D, 1), MatrixSymbol("lam_k_1_new", D, 1)
    v, v_new, v_K = sp.Symbol("v_k", real=True), sp.Symbol("v_k_new", real=True), sp.Symbol("v_K", real=True)
    terms = {
        "E_g_k": MatrixSymbol("E_g_k", D, 1), "E_H_k": MatrixSymbol("E_H_k", D, D),
        "E_loss": sp.Symbol("E_loss_k", real=True), "E_loss_K": sp.Symbol("E_loss_K", real=True),
        "g_k": MatrixSymbol("g_k", D, 1), "H_k": MatrixSymbol("H_k", D, D), "loss": sp.Symbol("loss_m", real=True),
        "loss_K": sp.Symbol("loss_m_K", real=True),
        "E_glogq": MatrixSymbol("E_glogq", D, 1), "E_Hlogq": MatrixSymbol("E_Hlogq", D, D),
        "E_logq": sp.Symbol("E_logq", real=True), "E_logq_K": sp.Symbol("E_logq_K", real=True),
        "S": S, "v": v, "v_K": v_K, "logdet": sp.Symbol("logdet_S", real=True),
        "logdet_K": sp.Symbol("logdet_S_K", real=True), "rho": RHO,
    }
    steps = []

    def step(label, eqs, why, anchor_, approximate=False):
        steps.append(Step(label, tuple(Equation(a, b, approximate) for a, b in eqs), why, anchor_))

    from .losses import Display

    step("Candidate posterior", [(lam1, S * m), (v, Display("log_ratio", r"\log(\pi_k/\pi_K)", "log(πₖ/π_K)"))],
         "$q(\\theta) = \\sum_k \\pi_k\\mathcal{N}(m_k, S_k^{-1})$ as the joint $q(\\theta, z)$: "
         "$\\lambda_k = (S_k m_k, -\\tfrac12 S_k)$ and $v_k = \\log(\\pi_k/\\pi_K)$", "multimodal")
    Egf, EHf = MatrixSymbol("E_grad_f", D, 1), MatrixSymbol("E_hess_f", D, D)
    Ef, Ef_K = sp.Symbol("E_f", real=True), sp.Symbol("E_f_K", real=True)
    S_rhs = S + RHO * EHf
    lam1_rhs = S * m - RHO * (Egf - EHf * m)
    v_rhs = v - RHO * (Ef - Ef_K)
    step("Bayesian learning rule", [(S_new, S_rhs), (lam1_new, lam1_rhs), (v_new, v_rhs)],
         "the natural gradient of the joint, per component, is the Gaussian one of "
         "$f = \\bar\\ell + \\log q$ under $q_k$ (Bonnet's and Price's theorems; $\\pi_k$ cancels)",
         "multimodal")
    split = {Egf: terms["E_g_k"] + terms["E_glogq"], EHf: terms["E_H_k"] + terms["E_Hlogq"],
             Ef: terms["E_loss"] + terms["E_logq"], Ef_K: terms["E_loss_K"] + terms["E_logq_K"]}
    step("Split f", list(split.items()), "$f = \\bar\\ell + \\log q$", "multimodal")
    exprs = {S_new: _expand(S_rhs.subs(split)), lam1_new: _expand(lam1_rhs.subs(split)),
             v_new: sp.expand(v_rhs.subs(split))}
    step("Substitute", list(exprs.items()), "the split inside the rule", "multimodal")
    for a in approximations:
        if isinstance(a, StepSize):
            subs = {RHO: a.value}
        else:
            subs = {k: w for k, w in a.substitutions(terms).items() if any(e.has(k) for e in exprs.values())}
        if not subs:
            raise DerivationError(f"{a.name} has nothing to rewrite in this derivation")
        exprs = {k: (_expand(e.subs(subs)) if k != v_new else sp.expand(e.subs(subs))) for k, e in exprs.items()}
        step(a.label, [*subs.items(), *exprs.items()], f"${a.statement}$", a.anchor,
             approximate=not (isinstance(a, StepSize) or a.exact))
    for left in ("E_g_k", "E_H_k", "E_loss", "E_glogq", "E_Hlogq", "E_logq"):
        if any(e.has(terms[left]) for e in exprs.values()):
            raise DerivationError(f"{left} is left in the update: add the approximation that removes it")
    S_out, lam1_out, v_out = exprs[S_new], exprs[lam1_new], exprs[v_new]
    step_size = next((a.value for a in approximations if isinstance(a, StepSize)), RHO)
    grad_bar = terms["g_k"]
    textbook = m - step_size * sp.Inverse(S_new) * grad_bar
    residual = _expand(_expand(S_new * textbook).subs(S_new, S_out) - lam1_out)
    if not _is_zero(residual):
        raise AssertionError(f"the mixture's textbook form does not follow: residual {residual}")
    v_tidy = sp.collect(v_out.subs(v_K, 0), [v], func=sp.factor)
    step("Textbook form", [(S_new, S_out), (m_new, textbook), (v_new, v_tidy)],
         "per component damped Newton ($S_{k,t+1} m_{k,t+1} = \\lambda_{k,1,t+1}$); $v_K = 0$", "multimodal")
    # the fixed point of the weights: v_k = -(ℓ̄(m_k) - ℓ̄(m_K)) - ½(log det S_k - log det S_K), i.e. the Laplace
    # evidence π_k ∝ exp(-ℓ̄(m_k)) det(S_k)^(-1/2) (v_K = 0 by definition)
    fixed = -(terms["loss"] - terms["loss_K"]) - (terms["logdet"] - terms["logdet_K"]) / 2
    if sp.simplify(v_out.subs({v: fixed, v_K: 0}) - fixed) != 0:
        raise AssertionError("the Laplace evidences are not the fixed point of the weight update")
    evidence = Display("laplace", r"\frac{1}{Z}\, e^{-\bar\ell(m_k)} (\det S_k)^{-1/2}",
                       "e^(-ℓ̄(mₖ)) (det Sₖ)^(-1/2) / Z")
    steps.append(Step("Fixed point", (Equation(Display("pi_k", r"\pi_k", "πₖ"), evidence),),
                      "$v_{k,t+1} = v_{k,t}$ where $\\pi_k$ is the Laplace evidence of mode $k$, $Z$ their sum "
                      "(checked)", "multimodal"))
    update = (Equation(S_new, S_out), Equation(m_new, textbook), Equation(v_new, v_tidy))
    from .blr import _plain

    oracles = ("# every component's mean m_k: m (..., K, D), S (..., K, D, D), v (..., K)",
               "g = grad(m)", "H = hess(m)", "loss_m = loss(m)", "loss_m_K = loss_m[..., -1:]",
               "logdet_S = np.linalg.slogdet(S)[1]", "logdet_S_K = logdet_S[..., -1:]")
    unit = any(isinstance(a, StepSize) for a in approximations)
    args = [Argument("m", "vector", "means m_k of the components, (..., K, D)"),
            Argument("S", "matrix", "precisions S_k, (..., K, D, D), symmetric positive definite"),
            Argument("v", "data", "log-weights v_k = log(π_k/π_K), (..., K), v_K = 0")]
    if not unit:
        args.append(Argument("rho", "scalar", "learning rate ρ in (0, 1], scalar or (..., 1)"))
    args += [Argument("grad", "callable", "callable, m (..., K, D) -> ∇ℓ̄(m_k) (..., K, D)"),
             Argument("hess", "callable", "callable, m (..., K, D) -> ∇²ℓ̄(m_k) (..., K, D, D)"),
             Argument("loss", "callable", "callable, m (..., K, D) -> ℓ̄(m_k) (..., K)")]
    assignments = tuple(Assignment(eq.lhs, eq.rhs, _plain(eq)) for eq in update)
    return Derivation(
        title=title or "Multimodal optimisation (mixture of Gaussians)", family="gaussian-mixture",
        approximations=tuple(approximations), steps=tuple(steps),
        natural_update=(Equation(S_new, S_rhs), Equation(lam1_new, lam1_rhs), Equation(v_new, v_rhs)),
        update=update, anchor=anchor or "multimodal", function_name=function_name,
        summary=f"One BLR step: {title or 'multimodal optimisation'}, every component at once.",
        arguments=tuple(args), oracles=oracles, assignments=assignments, outputs=(m_new, S_new, v_new),
        dims=((D, "m.shape[-1]"),), elementwise=False, extra={"terms": terms, "loss": loss},
    )

