r"""Conjugate Bayes as the BLR with :math:`\rho = 1` (Khan & Rue 2023, Sec. 5.1).

When every term of the loss is linear in the sufficient statistics,
:math:`\ell(\theta) = -\sum_i \langle\tilde\lambda_i, T(\theta)\rangle + c`, the expected loss is
linear in :math:`\mu` and its gradient is a constant, so with the prior in the family

.. math::

    \lambda_{t+1} = (1-\rho)\lambda_t + \rho\Big(\lambda_0 + \sum_{i=1}^N \tilde\lambda_i\Big),

and :math:`\rho = 1` gives the exact posterior in one step, from any start.  The derivation
finds :math:`\tilde\lambda_i` by rewriting the loss in :math:`T(\theta)`; a loss that cannot be so
written is not conjugate and raises :class:`~blrkit.derive.errors.DerivationError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from . import ir
from .derivation import Argument, Assignment, Derivation, Equation, Step
from .errors import DerivationError
from .printing import Estimate, ExpectedValue, Notation
from .symbols import RHO

#: the longest row of an update, in characters of LaTeX, that a plain ``article`` page holds (issue #26's standard):
#: a textbook form in standard parameters longer than this is printed in natural parameters, then mapped back
LONGEST_ROW = 300

#: data y_1..y_N, and the observation index
Y = sp.IndexedBase("y")
I = sp.Idx("i")  # noqa: E741
N_OBS = sp.Symbol("N", integer=True, positive=True)
#: the whole data count and a minibatch's size, under the stochastic approximation (SVI)
N_DATA, M_BATCH = sp.Symbol("n_data", integer=True, positive=True), sp.Symbol("M", integer=True, positive=True)


@dataclass(frozen=True)
class ConjugatePrior:
    """The prior p₀ in the candidate's family, given by its standard parameters ``<name>_0``."""

    symbols: dict  # standard symbol -> prior symbol


def prior_for(family) -> ConjugatePrior:
    """The prior in ``family`` with standard parameters renamed ``<name>_0``."""
    mapping = {}
    for s in _standard_symbols(family):
        mapping[s] = sp.Symbol(f"{s.name}_0", **s.assumptions0)
    return ConjugatePrior(mapping)


def _named(family) -> dict:
    """Scalar standard symbols whose name differs from their parameter's (a user family built from its
    log-density keeps λ's symbols under the names it was given) → a symbol of the parameter's name, so
    that the emitted arguments and the expressions agree."""
    return {p.symbols: sp.Symbol(p.name, **p.symbols.assumptions0) for p in family.standard
            if not isinstance(p.symbols, sp.MatrixBase) and p.symbols.name != p.name}


def _standard_symbols(family):
    out = []
    for p in family.standard:
        syms = p.symbols if isinstance(p.symbols, sp.MatrixBase) else [p.symbols]
        for s in syms:
            if s not in out:
                out.append(s)
    return out


@dataclass(frozen=True)
class Likelihood:
    """A loss over data y₁..y_N: ``expr`` is the loss of one datum in θ and ``y[i]``."""

    name: str
    expr: sp.Basic
    data: tuple = ()  # extra (symbol, doc) arguments, e.g. a known noise variance
    one_hot: bool = False
    #: a loss in θ alone (no data y_i): the expression is the whole loss, not one datum's term
    data_free: bool = False

    @property
    def total(self):
        return self.expr if self.data_free else sp.Sum(self.expr, (I, 1, N_OBS))


def _family(key, *args):
    from ..families import FAMILIES

    return FAMILIES[key](*args)


def _beta_bernoulli():
    f = _family("beta")
    (th,) = f.theta
    return f, Likelihood("Bernoulli", -(Y[I] * sp.log(th) + (1 - Y[I]) * sp.log(1 - th)))


def _gamma_poisson():
    f = _family("gamma")
    (th,) = f.theta
    return f, Likelihood("Poisson", -(Y[I] * sp.log(th) - th - sp.log(sp.factorial(Y[I]))))


def _dirichlet_categorical(K: int = 3):
    f = _family("dirichlet", K)
    expr = -sum(Y[I, k] * sp.log(t) for k, t in enumerate(f.theta))
    return f, Likelihood("categorical (one-hot)", expr, one_hot=True)


def _gaussian_mean():
    f = _family("gaussian")
    (th,) = f.theta
    s2 = sp.Symbol("noise_variance", positive=True)
    return f, Likelihood("Gaussian, known variance", (Y[I] - th) ** 2 / (2 * s2) + sp.log(2 * sp.pi * s2) / 2,
                         data=((s2, "known noise variance σ², scalar or (...)"),))


def _normal_gamma():
    f = _family("normal-gamma")
    x, tau = f.theta
    return f, Likelihood("Gaussian, unknown mean and precision",
                         tau * (Y[I] - x) ** 2 / 2 - sp.log(tau) / 2 + sp.log(2 * sp.pi) / 2)


#: recipe name -> () -> (family, likelihood)
CONJUGATE_PROBLEMS = {
    "beta_bernoulli": _beta_bernoulli,
    "gamma_poisson": _gamma_poisson,
    "dirichlet_categorical": _dirichlet_categorical,
    "gaussian_mean": _gaussian_mean,
    "normal_gamma": _normal_gamma,
}


def expected_loss(family, likelihood: Likelihood):
    r"""Rewrite :math:`\mathbb{E}_q[\ell]` in the expectation parameters: :math:`T_k(\theta) \to \mu_k`.

    Raises ``DerivationError`` when θ survives the rewrite (the loss is not conjugate).
    """
    expr = sp.expand(sp.expand_log(likelihood.total, force=True))
    mus = family.expectation
    order = sorted(range(len(family.statistics)), key=lambda k: -sp.count_ops(family.statistics[k]))
    for k in order:
        expr = expr.subs(sp.expand_log(family.statistics[k], force=True), mus[k])
    expr = sp.expand(expr)
    if expr.has(*family.theta):
        raise DerivationError(
            f"the {likelihood.name} loss is not linear in the sufficient statistics of the "
            f"{family.name} family, so it is not conjugate; T(θ) = {family.statistics}")
    return expr


def derive_conjugate(family, loss, prior, approx, *, function_name, title, anchor,
                     notation: Notation = Notation()) -> Derivation:
    r"""Derive the BLR step of any exponential family that is not a Gaussian (see the module docstring).

    .. math::

        \lambda_{t+1} = (1-\rho)\lambda_t - \rho\nabla_\mu\mathbb{E}_{q_t}[\bar\ell(\theta) + \log h(\theta)]

    The expected loss comes from :func:`~blrkit.derive.expectations.expectation` (statistics,
    shifted partition, enumeration); its natural gradient is :math:`a + F(\lambda)^{-1}\nabla_\lambda R`
    for the part :math:`\sum_k a_k\mu_k` linear in :math:`\mu` and the rest :math:`R(\lambda)`, by the
    chain rule :math:`\nabla_\lambda = F(\lambda)\nabla_\mu` (Khan & Rue 2023, Sec. 1.2).  With the
    prior in the family, :math:`\log h` cancels between the prior and the entropy.  ``prior="none"``
    drops the prior (:math:`\bar\ell = \ell`), and then :math:`\log h` stays in the expectation.
    """
    from .approximations import StepSize, StochasticGradient
    from .expectations import expectation

    if not isinstance(loss, Likelihood):
        raise DerivationError(
            f"the {family.name} family needs a loss in θ or a likelihood over data y_i, got {type(loss).__name__}")
    for a in approx:
        if not isinstance(a, (StepSize, StochasticGradient)):
            raise DerivationError(f"{a.name} does not apply to the {family.name} family: its natural gradient is "
                                  "computed exactly; choose a step size rho=…, 'stochastic', or none")
    stochastic = next((a for a in approx if isinstance(a, StochasticGradient)), None)
    if stochastic is not None and loss.data_free:
        raise DerivationError("'stochastic' estimates a sum over data y_i from a minibatch: this loss has no data")
    given, approx = tuple(approx), tuple(a for a in approx if isinstance(a, StepSize))
    if prior in ("none", "flat"):
        prior = None
    elif prior is None:
        prior = prior_for(family)
    elif not isinstance(prior, ConjugatePrior):
        raise DerivationError(f"the {family.name} family takes its prior in the family (default), or prior='none'")
    lam, mu = family.natural, family.expectation
    K = len(lam)
    new = [sp.Symbol(f"{l.name}_new") for l in lam]
    lam0 = [sp.Symbol(f"lam0_{k + 1}") for k in range(K)]
    dmu = [sp.Symbol(f"dmu_{k + 1}") for k in range(K)]
    steps = []

    def step(label, eqs, why, anchor_, approximate=False):
        steps.append(Step(label, tuple(Equation(a, b, approximate) for a, b in eqs), why, anchor_))

    constant_h = family.has_constant_base_measure
    rename = _named(family)
    s2n = tuple(sp.sympify(e).xreplace(rename) for e in family.standard_to_natural)
    if prior is not None and rename:
        prior = ConjugatePrior({rename.get(k, k): sp.Symbol(f"{rename[k].name}_0", **k.assumptions0) if k in rename
                                else v for k, v in prior.symbols.items()})
    step("Candidate posterior",
         list(zip(lam, s2n)) + [(m, ExpectedValue(t)) for m, t in zip(mu, family.statistics)],
         f"$q$ is {family.name}: $\\mu = \\mathbb{{E}}_q[T(\\theta)]$, "
         + ("constant base measure" if constant_h else
            f"base measure $\\log h = {_tex(family.log_base_measure, notation)}$"),
         "blr")
    if prior is not None:
        nat = [(1 - RHO) * l + RHO * (l0 - d) for l, l0, d in zip(lam, lam0, dmu)]
        why = "the prior $p_0$ is in the family" + ("" if constant_h else
                                                    ": $\\log h$ of $p_0$ and of the entropy cancel")
        step("Bayesian learning rule", list(zip(new, nat)), why, "blr-conjugate-form")
        prior_nat = [e.subs(prior.symbols) for e in s2n]
        step("Prior", list(zip(lam0, prior_nat)), "natural parameters of $p_0$", "conjugate")
        target = loss.total
    else:
        nat = [(1 - RHO) * l - RHO * d for l, d in zip(lam, dmu)]
        why = "no prior: $\\bar\\ell = \\ell$" + ("" if constant_h else ", and the entropy adds $\\log h$")
        step("Bayesian learning rule", list(zip(new, nat)), why, "blr")
        prior_nat = []
        target = loss.total + (0 if constant_h else family.log_base_measure)
    template = list(nat)  # the update in λ_t, λ₀ and ∇_μ, as the rule writes it (printed when shorter, below)
    if stochastic is not None:  # Σ_{i=1}^N ℓ_i ≈ (N/M) Σ_{i∈B} ℓ_i: y holds the minibatch, n_data counts all
        minibatch = target.replace(lambda x: isinstance(x, sp.Sum),
                                   lambda x: N_DATA / M_BATCH * sp.Sum(x.function, (I, 1, M_BATCH)))
        step(stochastic.label, [(sp.Symbol("E_loss_full"), target), (sp.Symbol("E_loss_full"), minibatch)],
             "$\\sum_{i=1}^N \\ell_i \\approx \\tfrac{N}{M}\\sum_{i\\in\\mathcal{B}} \\ell_i$: "
             "$y$ holds the minibatch $\\mathcal{B}$ of $M$ data (Hoffman et al. 2013)", stochastic.anchor,
             approximate=True)
        target = minibatch
    e = expectation(_data_sums(sp.expand(sp.expand_log(target, force=True))), family, monte_carlo=True)
    sampled = e.sampled
    conjugate = e.remainder == 0 and sampled == 0
    to_state = dict(zip(lam, s2n))
    if sampled != 0:  # no closed form: the emitted step estimates this part (score function or quadrature)
        from .score import estimator_for

        estimator = estimator_for(family, sampled)
    # F(λ) is printed where the closed-form part or the estimate uses it (quadrature computes its own)
    fisher = bool(e.shifted) or (sampled != 0 and estimator.uses_fisher)
    named = None if conjugate else _named_gradient(family, e, to_state, notation, fisher)
    e_loss = _data_sums(e.expression(family) if named is None else
                        sum(a * m for a, m in zip(e.linear, mu)) + named.loss + e.constant)
    if sampled != 0:  # the part no rule reaches stays an expectation, estimated below: never a value
        from .symbols import Display

        e_loss = e_loss + Estimate("E_f_mc", r"\mathbb{E}_{q_t}[f(\theta)]")
    step("Expected loss", (named.expectations if named else []) + [(sp.Symbol("E_loss"), e_loss)],
         "$\\ell$ is linear in $T(\\theta)$, so $\\mathbb{E}_q[\\ell]$ is linear in $\\mu$" if conjugate else
         "terms linear in $T(\\theta)$ give $\\mu$; a term $e^{c^\\top T(\\theta)}$ gives "
         "$e^{A(\\lambda + c) - A(\\lambda)}$", "conjugate" if conjugate else "blr")
    grads = [_data_sums(sp.expand(a)) for a in e.linear]
    if not conjugate:
        grad_lam = sp.Matrix([sp.diff(e.remainder, l) for l in lam])
        extra = sp.Matrix(family.fisher).LUsolve(grad_lam)
        # over one denominator first: cancel on the sum of the solve's fractions took 4.7 s for a Beta and ℓ = (θ − c)²,
        # cancel after together gives the same canonical form in 0.24 s
        grads = [g + sp.factor(sp.cancel(sp.together(x))) for g, x in zip(grads, extra)]
    if sampled != 0:  # the estimated part, named in the update
        from .symbols import Display

        mc = [Estimate(f"dmu_mc_{k}", rf"\left[F(\lambda_t)^{{-1}}\mathbb{{E}}_{{q_t}}[f(\theta)(T(\theta) - \mu_t)]"
                                     rf"\right]_{{{k + 1}}}", f"dmu_mc[{k}]") for k in range(K)]
        grads = [g + x for g, x in zip(grads, mc)]
        f_of = Display("f_mc", r"f(\theta)")
        estimate = (Display("dmu_f_mc", r"\nabla_\mu\mathbb{E}_{q_t}[f(\theta)]"),
                    Display("dmu_f_mc_hat", estimator.estimate_latex))
        steps.append(Step(estimator.label, (Equation(f_of, sampled), Equation(*estimate, approximate=True)),
                          estimator.justification, estimator.anchor))
    shown = grads if named is None else [_data_sums(sp.expand(a)) + g for a, g in zip(e.linear, named.gradient)]
    if sampled != 0:
        shown = [g + x for g, x in zip(shown, mc)] if named is not None else shown
    step("Natural gradient", (named.definitions if named else []) + list(zip(dmu, shown)),
         "constant in $\\mu$: each datum adds its own natural parameters" if conjugate else
         "$\\nabla_\\mu = F(\\lambda)^{-1}\\nabla_\\lambda$ (chain rule through $\\mu = \\nabla A(\\lambda)$, "
         "$F = \\nabla^2 A$, symmetric: $F_{ji} = F_{ij}$) on the part not linear in $\\mu$",
         "conjugate" if conjugate else "blr")
    # conjugate: the gradient is constant and goes into the update; otherwise the emitted step computes
    # it first (in the standard parameters) and the update refers to it
    inner = dict(zip(dmu, grads)) if conjugate else {}
    nat = [sp.expand(x.subs(inner).subs(dict(zip(lam0, prior_nat)))) for x in nat]
    rho_value = next((a.value for a in approx if a.value != 1), None)
    for a in approx:
        if a.value != 1:  # the update keeps ρ, (1 - ρ)λ_t + ρ(…); its value is stated once
            step(a.label, [(RHO, a.value)], "the update keeps $\\rho$ in its textbook form, $\\rho$ set to this value",
                 a.anchor)
            continue
        nat = [_data_sums(sp.expand(x.subs(RHO, a.value))) for x in nat]
        # λ_t drops out only if the update, its natural gradient written out, no longer depends on λ_t: a
        # non-conjugate gradient depends on it (and a Monte-Carlo estimate draws from q_t)
        drops = sampled == 0 and not any(x.subs(dict(zip(dmu, grads))).has(*lam) for x in nat)
        step(a.label, list(zip(new, nat)), "the start $\\lambda_t$ drops out: the exact posterior" if drops
             else f"${a.statement}$", a.anchor)
    needs_state = any(x.has(*lam) for x in nat) or not approx or not conjugate
    if needs_state:
        nat = [sp.expand(x.subs(to_state)) for x in nat]
    gradient = [] if conjugate else [(d, sp.factor(sp.together(g.subs(to_state)))) for d, g in zip(dmu, grads)]
    if sampled != 0:  # the estimated part is a variable of the emitted code, dmu_mc[..., k]
        mc_code = estimator.nodes(sampled, to_state)
        gradient = [(d, sp.factor(sp.together((g - x).subs(to_state))) + x) for d, g, x in zip(dmu, grads, mc)]
    to_std = family.natural_to_standard
    prior_syms = tuple(prior.symbols.values()) if prior is not None else ()
    update = []
    for p in family.standard:
        exprs = to_std[p.name]
        syms = p.symbols
        if isinstance(exprs, sp.MatrixBase):
            for s_, x in zip(syms, exprs):
                update.append((sp.Symbol(f"{s_.name}_new"), _tidy(x.subs(dict(zip(lam, nat))), prior_syms)))
        else:
            update.append((sp.Symbol(f"{p.name}_new"), _tidy(exprs.subs(dict(zip(lam, nat))), prior_syms)))
    if stochastic is not None:  # one fraction over the minibatch, not a sum of four
        update = [(a, min((b, sp.factor(b)), key=sp.count_ops)) for a, b in update]
    # the map back λ → standard parameters; where it is not affine (log-odds, softmax, atan2) and the textbook
    # form in standard parameters does not fit a row, the update is printed in natural parameters first, then the
    # map back (each λ defined before its use)
    back = _map_back(family, dict(zip(lam, new)))
    natural_form = None
    if any(sp.diff(b, x).has(*new) for _, b in back for x in new) and \
            max(len(Equation(a, b).latex(states={a.name[:-4] for a, _ in update}, notation=notation))
                for a, b in update) > LONGEST_ROW:
        fill = {RHO: 1} if any(a.value == 1 for a in approx) else {}
        natural_form = ((list(zip(lam, s2n)) if needs_state else [])
                        + (list(zip(lam0, prior_nat)) if prior is not None else [])
                        + [(n, t.subs(inner).subs(fill)) for n, t in zip(new, template)] + back)
    step("Standard parameters", back if natural_form else [(a, _powers(_one_root(b))) for a, b in update],
         "the family's map from natural to standard parameters", "conjugate")
    shown_gradient = [] if named is None else (named.expectations + named.definitions + list(zip(dmu, shown)))
    printed = tuple(Equation(a, b) for a, b in
                    shown_gradient + (natural_form or [(a, _powers(_one_root(b))) for a, b in update]))
    update_eqs = tuple(Equation(a, b) for a, b in gradient + update)
    assignments, outputs, prior_args = _vectorise(family, prior, update_eqs[len(gradient):], notation)
    in_code = {x: sp.IndexedBase("dmu_mc")[I, k] for k, x in enumerate(mc)} if sampled != 0 else {}
    unpack = []  # the gradient is written in the components of a vector parameter (Dirichlet's α_k): name them
    for p in (family.standard if gradient else ()):
        if isinstance(p.symbols, sp.MatrixBase):
            unpack += [Assignment(c, sp.IndexedBase(p.name)[I, k], f"{_tex(c, notation)} = {p.latex}_{{{k + 1}}}")
                       for k, c in enumerate(p.unique_symbols) if any(b.has(c) for _, b in gradient)]
    assignments = tuple(unpack) + tuple(Assignment(a, b.xreplace(in_code), f"{_tex(a, notation)} = {_tex(b, notation)}")
                                        for a, b in gradient) + assignments
    has_rho = rho_value is None and any(a.expr.has(RHO) for a in assignments)
    if rho_value is not None:  # stated first in the update; the emitted step assigns it
        printed = (Equation(RHO, rho_value), *printed)
    args = []
    for p in (family.standard if needs_state else ()):
        if isinstance(p.symbols, sp.MatrixBase):
            args.append(Argument(p.name, "data", f"state {p.name}, (..., K)"))
        else:
            args.append(Argument(p.name, "scalar", f"state {p.name}"))
    if has_rho:
        args.append(Argument("rho", "scalar", "learning rate ρ in (0, 1], scalar or (...)"))
    args += prior_args
    if any(a.expr.has(Y) for a in assignments) or sampled.has(Y):
        shape = "(..., N, K), one-hot rows" if loss.one_hot else "(..., N)"
        args.append(Argument("y", "data", f"observations y_1..y_N, {shape}"))
    args += [Argument(s_.name, "scalar", doc) for s_, doc in loss.data]
    if sampled != 0:
        args += [Argument(*a) for a in estimator.arguments]
    oracles = [ir.Comment(f"\\rho = {rho_value}"), ir.Constant("rho", rho_value)] if rho_value is not None else []
    if sampled != 0:
        oracles += mc_code
    if any(_outside_sums(a.expr).has(N_OBS) for a in assignments) or _outside_sums(sampled).has(N_OBS):
        oracles.append(ir.Count(("N",), "y", (-2 if loss.one_hot else -1,), "number of observations"))
    if any(_outside_sums(a.expr).has(M_BATCH) for a in assignments):
        oracles.append(ir.Count(("M",), "y", (-2 if loss.one_hot else -1,), "the minibatch size"))
    if any(a.expr.has(N_DATA) for a in assignments):
        args.append(Argument("n_data", "int", "number N of data in the whole sum (y is a minibatch of it)"))
    title = title or (f"Conjugate Bayes ({family.name})" if conjugate else f"Non-conjugate BLR ({family.name})")
    return Derivation(
        title=title, family=family.key, approximations=given, steps=tuple(steps),
        natural_update=tuple(Equation(a, b) for a, b in zip(new, nat)), update=printed,
        anchor=anchor or ("conjugate" if conjugate else "blr"), function_name=function_name,
        summary=f"One BLR step: {title}.",
        arguments=tuple(args), oracles=tuple(oracles), assignments=assignments, outputs=outputs,
        notation=notation, extra={"family": family, "likelihood": loss, "sum_axis": -2 if loss.one_hot else -1},
    )


def _one_root(e):
    """``√a √(1/b)`` printed as one root ``√(a/b)`` (a fraction under one root stacks; two roots side by side run
    off the page). Both are the standard parameters' map of positive natural-parameter ratios (the inverse Gaussian's
    m = √(λ₂/λ₁)), so the roots' radicands are positive where the update is defined."""
    roots = [f for f in sp.Mul.make_args(e) if isinstance(f, sp.Pow) and f.exp == sp.Rational(1, 2)]
    if len(roots) < 2:
        return e
    rest = sp.Mul(*[f for f in sp.Mul.make_args(e) if f not in roots])
    return rest * sp.sqrt(sp.Mul(*[f.base for f in roots]))


def _powers(e):
    """``e^{c log x}`` printed as ``x^c`` for a positive ``x``, and the powers of one base collected: the Poisson
    rate's update reads rateₜ^(1-ρ) rate₀^ρ e^(-ρ …), not rateₜ e^(-ρ …) e^(-ρ log rateₜ) e^(ρ log rate₀)."""
    def power(x):
        logs = [f for f in sp.Mul.make_args(x.args[0]) if isinstance(f, sp.log) and f.args[0].is_positive]
        return logs[0].args[0] ** (x.args[0] / logs[0]) if logs else x

    shown = e.replace(lambda x: isinstance(x, sp.exp), power)
    return sp.powsimp(shown) if shown != e else e


def _map_back(family, at: dict) -> list:
    """``(standard_new, its expression in λ_{t+1})`` for every standard parameter (components of a vector one)."""
    out = []
    for p in family.standard:
        exprs = family.natural_to_standard[p.name]
        if isinstance(exprs, sp.MatrixBase):
            out += [(sp.Symbol(f"{s_.name}_new"), x.xreplace(at)) for s_, x in zip(p.symbols, exprs)]
        else:
            out.append((sp.Symbol(f"{p.name}_new"), exprs.xreplace(at)))
    return out


@dataclass(frozen=True)
class _NamedGradient:
    r"""A non-conjugate natural gradient as a paper writes it, each named object defined once before its use:
    the closed-form expectations :math:`\mathbb{E}_{q_t}[f_j]` (``expectations``), then (``definitions``) their
    λ-derivatives, the entries of :math:`F(\lambda_t)`, :math:`\det F` and the entries of :math:`F^{-1}`;
    ``gradient[k]`` is :math:`[F^{-1}\nabla_\lambda R]_k` in those names and ``loss`` is :math:`R = \sum_j c_j
    \mathbb{E}_{q_t}[f_j]`."""

    expectations: list
    definitions: list
    gradient: list
    loss: sp.Basic


def _simplest(*forms):
    return min(forms, key=lambda x: (sp.count_ops(x), len(str(x))))


def _closed(x):
    """``x`` (in the standard parameters) in its shortest of a few forms: e^{α log β} as β^α, one fraction."""
    x = sp.powsimp(sp.powdenest(x, force=True), combine="exp")
    forms = [x, sp.factor(x), sp.factor(sp.cancel(x))]
    return _simplest(*forms)


def _named_gradient(family, e, to_state: dict, notation, fisher: bool = True) -> _NamedGradient:
    """See :class:`_NamedGradient`: the expectations and derivatives in the standard parameters (``to_state``);
    ``fisher`` False: no part needs F(λ), which is not printed."""
    from .symbols import Display

    lam = family.natural
    K = len(lam)
    expectations, definitions, loss, d_rest = [], [], sp.S.Zero, [sp.S.Zero] * K
    for j, (coeff, part, value) in enumerate(e.shifted, 1):
        of = _tex(part, notation)
        E = Display(f"E_part_{j}", rf"\mathbb{{E}}_{{q_t}}[{of}]", f"E_qt[{part}]")
        closed = _closed(value.subs(to_state))
        expectations.append((E, closed))
        loss += coeff * E
        for k, l in enumerate(lam):
            dv = sp.diff(value, l)
            if dv == 0:
                continue
            direct = _closed(dv.subs(to_state))
            # ∂_λ E = E ∂_λ log E: the logarithmic derivative of a ratio of Γ functions is a sum of ψ. Expanding the
            # log by force may add 2πik (log(-λ₂) = log λ₂ + iπ): such a form is not the derivative, and is dropped
            relative = sp.factor(sp.diff(sp.expand_log(sp.log(value), force=True), l).subs(to_state))
            shown = direct if closed == 0 or relative.has(sp.I) else _simplest(direct, E * relative)
            dE = Display(f"dE_part_{j}_{k + 1}", rf"\partial_{{\lambda_{k + 1}}}\mathbb{{E}}_{{q_t}}[{of}]",
                         f"dE_qt[{part}]/dlambda_{k + 1}")
            definitions.append((dE, shown))
            d_rest[k] += coeff * dE
    if not fisher:  # no closed-form part: nothing to multiply by F⁻¹ here
        return _NamedGradient(expectations, definitions, [sp.S.Zero] * K, loss)
    F = sp.Matrix(family.fisher)
    named = sp.zeros(K, K)
    for i in range(K):
        for j in range(i, K):
            entry = _closed(F[i, j].subs(to_state))
            if entry == 0:
                continue
            named[i, j] = named[j, i] = Display(f"F_{i + 1}_{j + 1}", f"F_{{{i + 1}{j + 1}}}")
            definitions.append((named[i, j], entry))
    if K == 1:
        inverse = sp.Matrix([[1 / named[0, 0]]])
    else:
        det = Display("F_det", r"\det F")
        definitions.append((det, sp.expand(named.det(method="berkowitz"))))
        inverse = named.adjugate() / det
    inv = sp.zeros(K, K)
    for i in range(K):
        for j in range(i, K):
            entry = sp.factor(inverse[i, j]) if K > 1 else inverse[i, j]
            if entry == 0:
                continue
            inv[i, j] = inv[j, i] = Display(f"F_inv_{i + 1}_{j + 1}", f"[F^{{-1}}]_{{{i + 1}{j + 1}}}")
            definitions.append((inv[i, j], entry))
    gradient = [sum((inv[k, j] * d_rest[j] for j in range(K)), sp.S.Zero) for k in range(K)]
    for p in family.standard:  # the sum of a vector parameter's components (Dirichlet's ᾱ = Σₖ αₖ), named once
        if isinstance(p.symbols, sp.MatrixBase) and len(p.unique_symbols) > 2:
            total, bar = sp.Add(*p.unique_symbols), Display(f"{p.name}_sum", rf"\bar{{{p.latex}}}_t")
            shorter = [[(a, b.subs(total, bar)) for a, b in group] for group in (expectations, definitions)]
            if shorter != [expectations, definitions]:
                expectations, definitions = [(bar, total)] + shorter[0], shorter[1]
    return _NamedGradient(expectations, definitions, gradient, loss)


class _Stack(sp.Function):
    """Components of a vector parameter, stacked on the last axis in the emitted code."""

    def _numpycode(self, printer):
        return f"numpy.stack(numpy.broadcast_arrays({', '.join(printer._print(a) for a in self.args)}), axis=-1)"

    def _latex(self, printer):
        return r"\left(" + ", ".join(printer._print(a) for a in self.args) + r"\right)"


def _vectorise(family, prior, update_eqs, notation):
    r"""Assignments for the emitted code: a vector parameter (Dirichlet's :math:`\alpha`) is
    updated in one line over its last axis, after checking that every component's update
    has the same form as the first."""
    assignments, outputs, args = [], [], []
    eqs = {e.lhs.name: e for e in update_eqs}
    for p in family.standard:
        if not isinstance(p.symbols, sp.MatrixBase):
            e = eqs[f"{p.name}_new"]
            assignments.append(Assignment(e.lhs, e.rhs, f"{_tex(e.lhs, notation)} = {_tex(e.rhs, notation)}"))
            outputs.append(e.lhs)
            if prior is not None:
                args.append(Argument(f"{p.name}_0", "scalar", f"prior {p.name}, scalar or (...)"))
            continue
        comps = list(p.symbols)
        vec0, vec_new, yv = sp.Symbol(f"{p.name}_0"), sp.Symbol(f"{p.name}_new"), sp.IndexedBase("y")
        forms = []
        if prior is None:
            raise DerivationError(f"the {family.name} family's vector parameter {p.name} needs the prior in the family")
        state = sp.Symbol(p.name)
        for k, c in enumerate(comps):
            e = eqs[f"{c.name}_new"].rhs
            forms.append(e.subs({prior.symbols[c]: vec0, c: state}).replace(
                lambda x: isinstance(x, sp.Indexed) and x.base == Y and len(x.indices) == 2,
                lambda x: yv[x.indices[0]] if x.indices[1] == k else x))
        if any(f != forms[0] for f in forms[1:]):  # one expression per component, stacked on the last axis
            at = {c: sp.IndexedBase(p.name)[I, k] for k, c in enumerate(comps)}
            at.update({prior.symbols[c]: sp.IndexedBase(f"{p.name}_0")[I, k] for k, c in enumerate(comps)})
            parts = [eqs[f"{c.name}_new"].rhs.xreplace(at) for c in comps]
            assignments.append(Assignment(vec_new, _Stack(*parts),
                                          f"{_tex(vec_new, notation)} = ({', '.join(_tex(x, notation) for x in parts)})"))
        else:
            assignments.append(Assignment(vec_new, forms[0],
                                          f"{_tex(vec_new, notation)} = {_tex(forms[0], notation)}, "
                                          "componentwise over k = 1..K"))
        outputs.append(vec_new)
        args.append(Argument(f"{p.name}_0", "data", f"prior {p.name}, (..., K)"))
    return tuple(assignments), tuple(outputs), args


def _tidy(e, prior_symbols=()):
    """Simplify, write every sum over the data as (terms free of i) × Σᵢ (terms in yᵢ), and
    show a prior parameter that enters with weight one as ``prior + data term``."""
    e = sp.factor_terms(_simplified(sp.expand(e)))
    e = _data_sums(e)
    for p in prior_symbols:
        parts = sp.collect(sp.expand(e), p, evaluate=False)
        if set(parts) == {p, sp.S.One} and _simplified(parts[p] - 1) == 0:
            return sp.Add(p, sp.factor(parts[sp.S.One]), evaluate=False)
    return e


def _simplified(e):
    """``e`` simplified, by the cheapest route that suffices: a polynomial (in the parameters and the data sums)
    stays expanded, a ratio of polynomials is cancelled over one denominator whose leading sign is positive, and
    only what holds functions (exp, log, powers with symbolic exponents) goes to :func:`sympy.simplify`, which
    costs 10-100 times more."""
    if any(not p.exp.is_Integer for p in e.atoms(sp.Pow)) or any(
            not isinstance(f, sp.Sum) for f in e.atoms(sp.Function, sp.Sum)):
        return sp.simplify(e)
    num, den = sp.fraction(sp.cancel(e))
    if den.could_extract_minus_sign():
        num, den = -num, -den
    return num / den


def _outside_sums(e):
    """``e`` with each sum replaced by its summand: what the emitted code needs besides ``xp.sum``."""
    return e.replace(lambda x: isinstance(x, sp.Sum), lambda x: x.function)


def _data_sums(e):
    """Every sum over the data in ``e`` split as in :func:`_split_sum`."""
    return sp.expand(e.replace(lambda x: isinstance(x, sp.Sum), _split_sum))


def _split_sum(s: sp.Sum):
    r"""``Σᵢ (c·f(yᵢ) + d) → c·Σᵢ f(yᵢ) + N·d``: only data stays inside a sum.

    The emitted code sums over the data axis, so a factor without :math:`i` (a prior
    parameter with its own batch shape) must not sit inside the sum.
    """
    (body, (i, lo, hi)) = s.function, s.limits[0]
    out = sp.S.Zero
    for term in sp.Add.make_args(sp.expand(body)):
        inside = [f for f in sp.Mul.make_args(term) if f.has(i)]
        outside = [f for f in sp.Mul.make_args(term) if not f.has(i)]
        out += sp.Mul(*outside) * (sp.Sum(sp.Mul(*inside), (i, lo, hi)) if inside else (hi - lo + 1))
    return out


def _tex(e, notation):
    from .printing import latex

    return latex(e, notation=notation)
