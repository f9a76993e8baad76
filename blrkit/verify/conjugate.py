r"""Row checks of conjugate Bayes: one BLR step with ρ = 1 is Bayes' rule.

Each check calls the public posterior of :mod:`blrkit.algorithms.conjugate` (what a user calls)
and compares *every* posterior parameter with the closed form of :mod:`blrkit.classical.conjugate`,
and the posterior as a whole with Bayes' rule evaluated by SciPy's densities: log q(θ) − log p₀(θ)
− log p(y | θ) must be the same constant (−log evidence) at every θ, which fails if any parameter
of q is wrong. The recipes have ρ = 1 only (a conjugate step with ρ < 1 is not derived yet).
The step compiled from the derivation is compared with the driver as a freshness check.
"""

from __future__ import annotations

import numpy as np

from blrkit.verify.registry import CLOSED_FORM, SAME_CODE, Check, Problem, compare, register


def bayes_rule(logpost, logprior, loglik, thetas) -> Check:
    """Bayes' rule by SciPy densities: log q(θ) − log p₀(θ) − log p(y|θ) is the same at every θ.

    The error is the spread of that difference over the points ``thetas``, relative to the size
    of the terms summed.
    """
    r = np.array([logpost(t) - logprior(t) - loglik(t) for t in thetas])
    scale = max(max(abs(logprior(t)) + abs(loglik(t)) for t in thetas), 1e-300)
    err = float(np.max(np.abs(r - r[0])) / scale)
    return Check("scipy.stats Bayes' rule", err if np.isfinite(err) else float("nan"), CLOSED_FORM, True)


def _checks(p: Problem, recipe, outputs, step_args, classical_args, densities) -> list[Check]:
    """The driver's ``outputs`` (a tuple of ``(batch,)``/``(batch, K)`` arrays) against the compiled
    derivation on ``step_args`` (freshness), the classical closed form on ``classical_args`` (every
    parameter) and Bayes' rule per problem (``densities(b, outputs_b)``)."""
    from blrkit.classical import conjugate as classical

    derived = recipe.derive().compile()(*step_args)
    derived = derived if isinstance(derived, tuple) else (derived,)
    textbook = getattr(classical, recipe.name)(*classical_args)
    textbook = textbook if isinstance(textbook, tuple) else (textbook,)
    rules = [bayes_rule(*densities(b, [np.asarray(o)[b] for o in outputs])) for b in range(p.batch)]
    worst = max(rules, key=lambda c: np.inf if np.isnan(c.error) else c.error)
    return [compare("derived step (compiled)", SAME_CODE, False, *zip(derived, outputs)),
            compare("classical.conjugate (every parameter)", CLOSED_FORM, True, *zip(outputs, textbook)),
            worst]


@register()
def beta_bernoulli(p: Problem, recipe) -> list[Check]:
    from scipy import stats

    from blrkit.algorithms.conjugate import beta_bernoulli as driver

    rng = p.rng()
    a0, b0 = rng.uniform(1, 3, p.batch), rng.uniform(1, 3, p.batch)
    y = (rng.random((p.batch, p.n)) < 0.3).astype(float)
    post = driver(y, alpha0=a0, beta0=b0)

    def densities(b, out):
        q = stats.beta(out[0], out[1])
        return (q.logpdf, stats.beta(a0[b], b0[b]).logpdf,
                lambda t: stats.bernoulli.logpmf(y[b], t).sum(), q.ppf(np.linspace(0.05, 0.95, 7)))
    return _checks(p, recipe, (post.alpha, post.beta), (a0, b0, y), (a0, b0, y), densities)


@register()
def gamma_poisson(p: Problem, recipe) -> list[Check]:
    from scipy import stats

    from blrkit.algorithms.conjugate import gamma_poisson as driver

    rng = p.rng()
    a0, b0 = rng.uniform(1, 3, p.batch), rng.uniform(0.5, 2, p.batch)
    y = rng.poisson(3.0, (p.batch, p.n)).astype(float)
    post = driver(y, alpha0=a0, beta0=b0)

    def densities(b, out):
        q = stats.gamma(out[0], scale=1 / out[1])
        return (q.logpdf, stats.gamma(a0[b], scale=1 / b0[b]).logpdf,
                lambda t: stats.poisson.logpmf(y[b], t).sum(), q.ppf(np.linspace(0.05, 0.95, 7)))
    return _checks(p, recipe, (post.alpha, post.beta), (a0, b0, y), (a0, b0, y), densities)


@register()
def dirichlet_categorical(p: Problem, recipe) -> list[Check]:
    from scipy import stats

    from blrkit.algorithms.conjugate import dirichlet_categorical as driver

    rng = p.rng()
    K = 3  # the recipe's derivation is written for K = 3 categories
    a0 = rng.uniform(1, 3, (p.batch, K))
    labels = rng.integers(0, K, (p.batch, p.n))
    onehot = np.eye(K)[labels]
    post = driver(labels, alpha0=a0)

    def densities(b, out):
        alpha = np.asarray(out[0])
        thetas = stats.dirichlet(alpha).rvs(7, random_state=np.random.default_rng(p.seed))
        return (lambda t: stats.dirichlet.logpdf(t, alpha), lambda t: stats.dirichlet.logpdf(t, a0[b]),
                lambda t: float(np.sum(onehot[b] @ np.log(t))), thetas)
    return _checks(p, recipe, (post.alpha,), (a0, onehot), (a0, onehot), densities)


@register()
def gaussian_mean(p: Problem, recipe) -> list[Check]:
    from scipy import stats

    from blrkit.algorithms.conjugate import gaussian_mean as driver

    rng = p.rng()
    m0, S0, s2 = rng.standard_normal(p.batch), rng.uniform(0.5, 2, p.batch), 0.7
    y = 1.5 + np.sqrt(s2) * rng.standard_normal((p.batch, p.n))
    post = driver(y, m0=m0, precision0=S0, noise_variance=s2)

    def densities(b, out):
        q = stats.norm(out[0], 1 / np.sqrt(out[1]))
        return (q.logpdf, stats.norm(m0[b], 1 / np.sqrt(S0[b])).logpdf,
                lambda t: stats.norm.logpdf(y[b], t, np.sqrt(s2)).sum(), q.ppf(np.linspace(0.05, 0.95, 7)))
    return _checks(p, recipe, (post.mean, post.precision), (m0, S0, y, s2), (m0, S0, y, s2), densities)


@register()
def normal_gamma(p: Problem, recipe) -> list[Check]:
    from scipy import stats

    from blrkit.algorithms.conjugate import normal_gamma as driver

    rng = p.rng()
    m0, k0 = rng.standard_normal(p.batch), rng.uniform(0.5, 2, p.batch)
    a0, b0 = rng.uniform(1, 3, p.batch), rng.uniform(0.5, 2, p.batch)
    y = 1.0 + 0.8 * rng.standard_normal((p.batch, p.n))
    post = driver(y, m0=m0, kappa0=k0, alpha0=a0, beta0=b0)

    def logpdf(m, k, a, bb):
        # NG(μ, τ | m, κ, α, β) = Gamma(τ | α, rate β) · N(μ | m, (κτ)⁻¹)
        return lambda t: stats.gamma.logpdf(t[1], a, scale=1 / bb) + stats.norm.logpdf(t[0], m, 1 / np.sqrt(k * t[1]))

    def densities(b, out):
        taus = stats.gamma(out[2], scale=1 / out[3]).ppf(np.linspace(0.1, 0.9, 5))
        thetas = [(out[0] + d / np.sqrt(out[1] * t), t) for t, d in zip(taus, (-1.0, -0.3, 0.0, 0.5, 1.2))]
        return (logpdf(*out), logpdf(m0[b], k0[b], a0[b], b0[b]),
                lambda t: stats.norm.logpdf(y[b], t[0], 1 / np.sqrt(t[1])).sum(), thetas)
    outputs = (post.m, post.kappa, post.alpha, post.beta)
    return _checks(p, recipe, outputs, (m0, k0, a0, b0, y), (m0, k0, a0, b0, y), densities)
