r"""The BLR for binary weights: a mean-field Bernoulli on :math:`\{-1, +1\}^P` (Khan & Rue 2023, Sec. 4.5).

The Bernoulli family on :math:`\theta \in \{0, 1\}` coded as :math:`w = 2\theta - 1` has
:math:`T(w) = w`, :math:`\lambda = \tfrac12\operatorname{logit} p`, :math:`A(\lambda) = \log(2\cosh\lambda)`,
:math:`\mu = \tanh\lambda` and Fisher information :math:`1 - \mu^2` (derived here from the family's own
log-partition).  With an oracle loss (its gradient in w, a sum over N examples) the BLR needs
:math:`\nabla_\mu\mathbb E_q[\ell] = \nabla_\lambda\mathbb E_q[\ell]/(1 - \mu^2)`; the Gumbel-softmax
*relaxation* :math:`w_\tau = \tanh((\lambda + \varepsilon)/\tau)`, :math:`\varepsilon = \tfrac12\log(u/(1-u))`,
makes :math:`\nabla_\lambda` a reparameterisation gradient (BayesBiNN, Meng, Bachmann & Khan 2020), and
its deterministic limit, with the scale absorbed into the step, is the straight-through estimator (STE).
"""

from __future__ import annotations

import sympy as sp

from . import ir
from .algebra import is_zero
from .approximations import Relaxation, Stage, StepSize, StochasticGradient
from .derivation import Argument, Assignment, Derivation, Equation, Step
from .errors import DerivationError
from .losses import OracleLoss
from .printing import equation_line
from .roles import Role, Terms
from .symbols import RHO, Display

__all__ = ["derive_binary"]


def derive_binary(loss, prior, approximations, *, function_name="blr_step", title=None, anchor=None) -> Derivation:
    """Derive the mean-field Bernoulli BLR step on {−1, +1}ᴾ for an oracle loss (see the module docstring).

    ``approximations``: ``"relaxation"`` (required: the exact gradient needs 2ᴾ loss evaluations),
    ``"stochastic"``, then optionally STE's limits ``"no-noise"``, ``"zero-temperature"``,
    ``"constant-scale"``, ``"small-step"`` (:mod:`blrkit.derive.approximations`).
    """
    from ..families import FAMILIES

    if not isinstance(loss, OracleLoss):
        raise DerivationError("binary weights take an oracle loss (its gradient in w at the relaxed or binary "
                              "weights); a loss in θ ∈ {0, 1} derives exactly by enumeration")
    rel = next((a for a in approximations if isinstance(a, Relaxation)), None)
    exact = rel is None
    if exact and any(a.stage is Stage.LIMIT or isinstance(a, StochasticGradient) for a in approximations):
        raise DerivationError("STE's limits and 'stochastic' act on the relaxed estimator: add 'relaxation', or give "
                              "none of them for the exact natural gradient by enumeration (P ≤ 20)")
    # -- the family, coded on {−1, +1}, derived from the Bernoulli's own A ---------------------------
    fam = FAMILIES["bernoulli"]()
    lam = sp.Symbol("lam", real=True)
    A = fam.log_partition.subs(fam.natural[0], 2 * lam) - lam
    if not is_zero((sp.exp(A) - 2 * sp.cosh(lam)).rewrite(sp.exp)):
        raise AssertionError(f"the {{-1, +1}} coding does not give log(2 cosh λ): {A}")
    mu_expr, fisher = sp.diff(sp.log(2 * sp.cosh(lam)), lam), sp.diff(sp.log(2 * sp.cosh(lam)), lam, 2)
    if not (is_zero((mu_expr - sp.tanh(lam)).rewrite(sp.exp))
            and is_zero((fisher - (1 - sp.tanh(lam) ** 2)).rewrite(sp.exp))):
        raise AssertionError("μ or the Fisher information of the {-1, +1} Bernoulli do not follow")
    lam_new, lam0, mu = sp.Symbol("lam_new", real=True), sp.Symbol("lam_0", real=True), sp.Symbol("mu_w", real=True)
    tau, eps = sp.Symbol("tau", positive=True), sp.Symbol("eps", real=True)
    dmu, dlam = Display("dmu", r"\nabla_\mu\mathbb{E}_{q_t}[\ell]", "∇_μ E_q[ℓ]"), \
        Display("dlam", r"\nabla_\lambda\mathbb{E}_{q_t}[\ell]", "∇_λ E_q[ℓ]")
    steps = [Step("Candidate posterior", (
        Equation(Display("w_def", "w", "w"), Display("w_rhs", r"2\theta - 1 = \pm 1", "2θ - 1 = ±1")),
        Equation(Display("A_w", r"A(\lambda)", "A(λ)"), sp.log(2 * sp.cosh(lam))),
        Equation(mu, sp.tanh(lam)), Equation(Display("F_w", r"F(\lambda)", "F(λ)"), 1 - mu**2)),
        "the Bernoulli family with $w = 2\\theta - 1$, per weight: $T(w) = w$, $\\lambda = \\tfrac12\\,"
        "\\mathrm{logit}\\, p$, $A(\\lambda_B) = \\log(1 + e^{\\lambda_B})$ at $\\lambda_B = 2\\lambda$ less $\\lambda$ "
        "(checked), $\\mu = A'$, $F = A''$", "bayesbinn")]
    in_family = prior is None
    nat = (1 - RHO) * lam + RHO * ((lam0 if in_family else 0) - dmu)
    steps.append(Step("Bayesian learning rule", (Equation(lam_new, nat),),
                      "the prior $p_0$ in the family (natural parameter $\\lambda_0$), constant base measure"
                      if in_family else "no prior: $\\bar\\ell = \\ell$", "blr"))
    steps.append(Step("Natural gradient", (Equation(dmu, dlam / (1 - mu**2)),),
                      "the chain rule through $\\mu = \\tanh\\lambda$: $\\nabla_\\mu = F(\\lambda)^{-1}\\nabla_\\lambda$",
                      "blr"))
    if exact:
        return _exact(steps, locals(), approximations, function_name, title, anchor)
    # -- the relaxation: a reparameterisation gradient through w_τ --------------------------------
    w_tau = sp.tanh((lam + eps) / tau)
    wt = sp.Symbol("w_tau", real=True)
    if not is_zero((sp.diff(w_tau, lam) - (1 - w_tau**2) / tau).rewrite(sp.exp)):
        raise AssertionError("∂w_τ/∂λ does not follow")
    E_rel = Display("E_rel", r"\mathbb{E}_{\varepsilon}\left[\frac{1 - w_\tau^2}{\tau}\nabla_w\ell(w_\tau)\right]",
                    "E_ε[(1 - w_τ²)/τ ∇_w ℓ(w_τ)]")
    steps.append(Step(rel.label, (Equation(wt, w_tau), Equation(Display("dw", r"\partial w_\tau/\partial\lambda",
                                                                         "∂w_τ/∂λ"), (1 - wt**2) / tau),
                                  Equation(dlam, E_rel, True)),
                      f"${rel.statement}$, $\\varepsilon = \\tfrac12\\log\\frac{{u}}{{1-u}}$, $u \\sim U(0, 1)$: "
                      "$w_\\tau \\to w \\sim q$ as $\\tau \\to 0$; differentiated by SymPy", rel.anchor))
    # the update in one symbol: ŝ ⊙ ĝ averaged over the draws
    sg = sp.Symbol("E_sg", real=True)
    n_data = sp.Symbol("n_data", integer=True, positive=True)
    update = sp.expand(nat.subs(dmu, sg))
    shown_sg = Display("sg_shown", r"\mathbb{E}_\varepsilon\left[\frac{1 - w_\tau^2}{\tau(1 - \mu^2)}\,\nabla_w\ell(w_\tau)\right]",
                       "E_ε[(1 - w_τ²)/(τ(1 - μ²)) ∇_w ℓ(w_τ)]")
    steps.append(Step("Substitute", (Equation(sg, shown_sg), Equation(lam_new, update)),
                      "the relaxed gradient over the Fisher information", "bayesbinn"))
    st = next((a for a in approximations if isinstance(a, StochasticGradient)), None)
    if st is not None:
        sg_mean = sp.Symbol("E_sg_mean", real=True)
        update = update.subs(sg, n_data * sg_mean)
        steps.append(Step(st.label, (Equation(sg, n_data * sg_mean), Equation(lam_new, update)),
                          "$\\nabla_w\\ell \\approx N\\,\\bar g(w)$, $\\bar g$ the mean gradient of a minibatch",
                          st.anchor, ))
        sg = sg_mean
    for a in approximations:
        if isinstance(a, StepSize):
            update = update.subs(RHO, a.value)
    limits = [a for a in approximations if a.stage is Stage.LIMIT]
    terms = Terms({Role.NATURAL: lam, Role.NEW_NATURAL: lam_new, Role.PRIOR_NATURAL: lam0, Role.STEP_SIZE: RHO,
                   Role.RELAXED_GRADIENT: sg, Role.TEMPERATURE: tau, Role.DATA_COUNT: n_data})
    for a in limits:
        known = set(terms)
        update = a.rewrite(update, terms)
        if set(terms) - known - a.produces:  # what an approximation brings is what it declares
            raise AssertionError(f"{a.key} produced roles it does not declare")
        eqs = (Equation(lam_new, update, True),)
        if Role.RELAXATION_SCALE_DEFINITION in a.produces:  # the scale at ε = 0, named
            eqs = (Equation(terms[Role.RELAXATION_SCALE], terms[Role.RELAXATION_SCALE_DEFINITION]),) + eqs
        steps.append(Step(a.label, eqs, f"${a.statement}$, {a.note}", a.anchor))
    steps.append(Step("Textbook form", (Equation(lam_new, update),), "one step per weight, elementwise", "bayesbinn"))
    # -- the emitted code ----------------------------------------------------------------------------
    ste = "g_sign" in {s.name for s in update.free_symbols}
    if ste:
        oracles = (ir.Comment("the binary weights w = sign(λ) (+1 at 0), and the mean minibatch gradient there"),
                   ir.Sign("w", "lam"), ir.OracleCall(("g_sign",), "grad_mean", sp.Symbol("w")))
    else:
        oracles = (ir.Comment("u_k ~ U(0, 1), ε_k = ½ log(u_k / (1 − u_k)), w_k = tanh((λ + ε_k)/τ): "
                              "(n_samples, ..., P)"),
                   ir.Sample("u", "uniform", "lam"), ir.Relaxation("w", "lam", "tau", "log_s"),
                   ir.OracleCall((sg.name,), "grad_mean", sp.Symbol("w"), average=True, log_weight="log_s",
                                 divisor="tau"))
    free = {s.name for s in update.free_symbols}
    args = [Argument("lam", "vector", "natural parameters λ_t = ½ logit p of the weights, (..., P)")]
    for name, kind, doc in (("rho", "scalar", "learning rate ρ in (0, 1], scalar or (...)"),
                            ("lam_0", "data", "the prior's natural parameters λ₀, broadcastable to (..., P)"),
                            ("lr", "scalar", "learning rate α of the latent weights (STE), scalar or (...)")):
        if name in free:
            args.append(Argument(name, kind, doc))
    if not ste:
        args.append(Argument("tau", "scalar", "temperature τ > 0 of the relaxation"))
    args.append(Argument("grad_mean", "callable",
                         "callable, w (..., P) -> the mean minibatch gradient ḡ(w) = (1/M) Σ_{i∈B} ∇ℓ_i(w), (..., P)"))
    if "n_data" in free:
        args.append(Argument("n_data", "int", "number N of terms in the loss"))
    if not ste:
        args += [Argument("n_samples", "int", "number of relaxed samples per step"),
                 Argument("rng", "rng", "numpy.random.Generator for the uniforms")]
    upd = (Equation(lam_new, update),)
    name = title or ("STE" if ste else "BayesBiNN")
    return Derivation(
        title=name, family="bernoulli", approximations=tuple(approximations), steps=tuple(steps),
        natural_update=(Equation(lam_new, nat),), update=upd, anchor=anchor or ("ste" if ste else "bayesbinn"),
        function_name=function_name, summary=f"One BLR step: {name}, every weight at once.",
        arguments=tuple(args), oracles=oracles, assignments=tuple(Assignment(e.lhs, e.rhs, equation_line(e)) for e in upd),
        outputs=(lam_new,), dims=(), elementwise=True, extra={},
    )


def _exact(steps, v_, approximations, function_name, title, anchor) -> Derivation:
    r"""The exact natural gradient by enumerating :math:`\{-1, +1\}^P`: :math:`q(w) = \prod_j (1 + \mu_j w_j)/2` is
    linear in each :math:`\mu_j`, so :math:`\partial\mathbb E_q[\ell]/\partial\mu_j = \tfrac12\sum_w w_j\,\ell(w)
    \prod_{k\ne j}(1 + \mu_k w_k)/2` (SymPy checks the pairing form for P = 2)."""

    lam, lam_new, lam0, nat, dmu = (v_[k] for k in ("lam", "lam_new", "lam0", "nat", "dmu"))
    m1, m2 = sp.symbols("mu_1 mu_2", real=True)
    ls = {w: sp.Symbol(f"l_{'p' if w[0] > 0 else 'm'}{'p' if w[1] > 0 else 'm'}", real=True)
          for w in ((-1, -1), (-1, 1), (1, -1), (1, 1))}
    expected = sum((1 + m1 * w[0]) * (1 + m2 * w[1]) / 4 * ell for w, ell in ls.items())
    pairing = sum((1 + m2 * w2) / 2 * (ls[(1, w2)] - ls[(-1, w2)]) for w2 in (-1, 1)) / 2
    if sp.expand(sp.diff(expected, m1) - pairing) != 0:
        raise AssertionError("the pairing form of ∂E_q[ℓ]/∂μ_j does not follow")
    E_pair = Display("E_pair", r"\frac{1}{2}\,\mathbb{E}_{q(w_{-j})}[\ell(w_j{=}1) - \ell(w_j{=}{-1})]",
                     "½ E_q(w₋ⱼ)[ℓ(wⱼ=+1) − ℓ(wⱼ=−1)]")
    steps.append(Step("Enumeration", (Equation(Display("dmu_j", r"\partial\mathbb{E}_{q}[\ell]/\partial\mu_j",
                                                       "∂E_q[ℓ]/∂μⱼ"), E_pair),),
                      "$q(w) = \\prod_j (1 + \\mu_j w_j)/2$ is linear in $\\mu_j$: the derivative pairs each vector "
                      "with its $j$-th flip (checked for $P = 2$); $2^P$ loss evaluations", "bayesbinn"))
    update = nat
    for a in approximations:
        if isinstance(a, StepSize):
            update = update.subs(RHO, a.value)
    steps.append(Step("Textbook form", (Equation(lam_new, update),),
                      "the exact BLR for binary weights; its fixed point is the mean-field VI optimum", "bayesbinn"))
    oracles = (ir.Comment("every w in {−1, +1}^P, the loss there, and Π_{k≠j}(1 + μ_k w_k)/2 by prefix and suffix "
                          "products"),
               ir.Count(("P",), "lam", (-1,)), ir.Enumeration("dmu", "lam", "loss"))
    args = [Argument("lam", "vector", "natural parameters λ_t = ½ logit p of the weights, (..., P)")]
    free = {s.name for s in update.free_symbols}
    if "rho" in free:
        args.append(Argument("rho", "scalar", "learning rate ρ in (0, 1], scalar or (...)"))
    if "lam_0" in free:
        args.append(Argument("lam_0", "data", "the prior's natural parameters λ₀, broadcastable to (..., P)"))
    args.append(Argument("loss", "callable", "callable, W (2**P, P) of ±1 -> ℓ(w) for every row, (2**P,)"))
    upd = (Equation(lam_new, update),)
    name = title or "Bernoulli BLR (exact natural gradient)"
    return Derivation(
        title=name, family="bernoulli", approximations=tuple(approximations), steps=tuple(steps),
        natural_update=(Equation(lam_new, nat),), update=upd, anchor=anchor or "bayesbinn",
        function_name=function_name, summary=f"One BLR step: {name}, every weight at once.",
        arguments=tuple(args), oracles=oracles, assignments=tuple(Assignment(e.lhs, e.rhs, equation_line(e)) for e in upd),
        outputs=(lam_new,), dims=(), elementwise=True, extra={},
    )
