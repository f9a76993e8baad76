r"""Row checks of the inference rows: VMP as the mean-field BLR with ρ = 1 (Khan & Rue 2023, Sec. 5.3).

A Gaussian with unknown mean μ and precision τ, q(μ) q(τ): the driver
(:func:`blrkit.algorithms.vmp_normal_gamma`) against the coordinate ascent of Bishop (2006, §10.1.3)
written by hand (:mod:`blrkit.classical.vmp`) on every sweep, and against BayesPy's variational Bayes
(when installed: ``GaussianARD`` and ``Gamma`` nodes updated in the same order from the same start), every
sweep's moments and the converged lower bound.
"""

from __future__ import annotations

import numpy as np

from blrkit.verify.registry import (
    CLOSED_FORM, SAME_CODE, SEQUENCE, Check, Problem, compare, driver_raised, optional, register, skipped,
)

#: the prior and the start: μ ~ N(0.5, 10), τ ~ Gamma(2, 3); q(τ) starts at E[τ] = 1
PRIOR, START, SWEEPS = dict(mean_prior=(0.5, 0.1), precision_prior=(2.0, 3.0)), (1.0, 1.0), 12


@register("vmp")
def vmp(p: Problem, recipe) -> list:
    from blrkit.algorithms import vmp_normal_gamma as driver
    from blrkit.classical.vmp import normal_gamma_cavi

    y = p.rng().normal(1.0, 2.0, size=(p.batch, p.n))
    res = driver(y, n_steps=SWEEPS, precision_init=START, **PRIOR)
    (m0, S0), (a0, b0) = PRIOR["mean_prior"], PRIOR["precision_prior"]
    book = [normal_gamma_cavi(y[b], m0, S0, a0, b0, *START, SWEEPS) for b in range(p.batch)]
    step = recipe.derive().compile()
    state = (np.full(p.batch, m0), np.full(p.batch, S0), np.full(p.batch, START[0]), np.full(p.batch, START[1]))
    for _ in range(SWEEPS):
        state = step(*state, m0, S0, y, a0, b0)
    checks = [compare("derived sweep (compiled)", SAME_CODE, False, (res.means[-1], state[0]),
                      (res.betas[-1], state[3])),
              compare(f"classical.vmp (Bishop 10.1.3, {SWEEPS} sweeps)", SEQUENCE, True,
                      *[(getattr(res, k)[1:], np.stack([b[i][1:] for b in book], 1))
                        for i, k in enumerate(("means", "precisions", "alphas", "betas"))])]
    return checks + _bayespy(y, res)


def _bayespy(y, res) -> list:
    """BayesPy's VB on the same model, order and start: E[μ], E[μ²], E[τ], E[log τ] after every sweep, and
    the lower bound at the end (BayesPy's includes every constant, as blrkit's does)."""
    name = "BayesPy VB (moments every sweep, lower bound)"
    if optional("bayespy") is None:
        return [skipped(name, SEQUENCE)]
    import warnings

    from scipy.special import digamma

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BayesPy's own deprecation warnings (NumPy aliases)
        from bayespy.inference import VB
        from bayespy.nodes import Gamma, GaussianARD

        ours, theirs = [], []
        for b in range(y.shape[0]):
            mu = GaussianARD(PRIOR["mean_prior"][0], PRIOR["mean_prior"][1])
            tau = Gamma(*PRIOR["precision_prior"])
            node = GaussianARD(mu, tau, plates=y[b].shape)
            node.observe(y[b])
            Q = VB(node, mu, tau)
            tau.initialize_from_value(START[0] / START[1])
            for t in range(1, SWEEPS + 1):
                Q.update(mu, tau, repeat=1, verbose=False)
                (e_mu, e_mu2), (e_tau, e_logtau) = mu.get_moments(), tau.get_moments()
                theirs.append([float(x) for x in (e_mu, e_mu2, e_tau, e_logtau)])  # BayesPy updates in place
                m, S, a, bb = res.means[t, b], res.precisions[t, b], res.alphas[t, b], res.betas[t, b]
                ours.append([m, m**2 + 1 / S, a / bb, digamma(a) - np.log(bb)])
            theirs.append([Q.compute_lowerbound()])
            ours.append([res.elbo[-1, b]])
    return [compare(name, SEQUENCE, True, *[(np.asarray(o, float), np.asarray(t, float))
                                            for o, t in zip(ours, theirs)])]


@register("ncvmp")
def ncvmp(p: Problem, recipe) -> list:
    """Non-conjugate VMP (ρ = 1, Gauss–Hermite expectations) for Bayesian logistic regression: every iterate
    against Knowles & Minka's update in mean and variance written by hand with SciPy's adaptive quadrature
    (:mod:`blrkit.classical.ncvmp`), and the last iterate against the stationarity conditions of the
    evidence lower bound over Gaussians, :math:`S = \\alpha I + X^\\top\\mathbb E[f'']X` and
    :math:`\\alpha m + X^\\top\\mathbb E[f'] = 0`, evaluated by adaptive quadrature (exact Gaussian VI)."""
    from blrkit.algorithms import ncvmp_logistic as driver
    from blrkit.classical.ncvmp import _dF, knowles_minka

    rng = p.rng()
    X = rng.standard_normal((p.batch, p.n, p.dim)) / np.sqrt(p.dim)
    y = np.where(rng.uniform(size=(p.batch, p.n)) < 1 / (1 + np.exp(-X @ np.ones(p.dim))), 1.0, -1.0)
    alpha, short, T = 1.0, 4, 25
    book = [knowles_minka(X[b], y[b], alpha, np.zeros(p.dim), np.eye(p.dim) / alpha, short) for b in range(p.batch)]
    name = f"classical.ncvmp (Knowles & Minka, quad, {short} steps)"
    try:
        res = driver(X, y, alpha=alpha, n_steps=T)
    except (ValueError, np.linalg.LinAlgError) as e:  # the hand-written update ran where the driver stopped
        return driver_raised(name, SEQUENCE, e)
    step = recipe.derive().compile()
    m, S = np.zeros((p.batch, p.dim)), np.broadcast_to(alpha * np.eye(p.dim), (p.batch, p.dim, p.dim))
    for _ in range(T):
        m, S = step(m, S, np.full(p.batch, alpha), X, y)
    residuals, scale = [], []
    for b in range(p.batch):  # the ELBO's stationarity at the last iterate, by adaptive quadrature
        mb, V = res.means[-1, b], np.linalg.inv(res.precisions[-1, b])
        d = _dF(X[b] @ mb, np.einsum("nd,de,ne->n", X[b], V, X[b]), y[b])  # (∂F/∂μ, ∂F/∂v) per example
        residuals += [alpha * mb - X[b].T @ d[:, 0], res.precisions[-1, b] - (alpha * np.eye(p.dim)
                                                                               - 2 * X[b].T @ (d[:, 1:] * X[b]))]
        scale += [np.abs(X[b].T @ d[:, 0]).max(), np.abs(res.precisions[-1, b]).max()]
    error = max(np.abs(r).max() for r in residuals) / max(scale)
    return [compare("derived step (compiled)", SAME_CODE, False, (res.means[-1], m), (res.precisions[-1], S)),
            compare(name, SEQUENCE, True,
                    (res.means[:short + 1], np.stack([b_[0] for b_ in book], 1)),
                    (res.precisions[:short + 1], np.stack([b_[1] for b_ in book], 1))),
            Check("stationarity of the ELBO over Gaussians (adaptive quadrature)", float(error), SEQUENCE, True)]


@register("svi")
def svi(p: Problem, recipe) -> list:
    r"""SVI for a Gaussian mean (known noise variance): the driver against Hoffman et al.'s update written by
    hand (:mod:`blrkit.classical.svi`) on the same minibatches, ρ_t = (1 + t)^(−0.7), M = N/4; and against the
    exact posterior (closed form) after one epoch of single data without replacement with ρ_t = 1/t, where
    the stochastic iteration is exact."""
    from blrkit.algorithms import svi_gaussian_mean as driver
    from blrkit.classical.svi import svi_gaussian_mean as classical

    rng = p.rng()
    y = rng.normal(1.5, 2.0, size=(p.batch, p.n))
    prior = dict(prior_mean=0.3, prior_precision=0.5, noise_variance=4.0)
    M, T = max(1, p.n // 4), 40
    batches = [np.sort(rng.choice(p.n, M, replace=False)) for _ in range(T)]
    m, S = driver(y, batch_size=M, n_steps=T, batches=batches, **prior)
    rhos = (1.0 + np.arange(1, T + 1)) ** -0.7
    book = [classical(y[b], 0.3, 0.5, 4.0, 0.3, 0.5, batches, rhos) for b in range(p.batch)]
    step = recipe.derive().compile()
    mm, SS = np.full(p.batch, 0.3), np.full(p.batch, 0.5)
    for idx, r in zip(batches, rhos):
        mm, SS = step(mm, SS, r, 0.3, 0.5, y[:, idx], 4.0, p.n)
    epoch = [np.array([i]) for i in rng.permutation(p.n)]
    m1, S1 = driver(y, batch_size=1, n_steps=p.n, batches=epoch, learning_offset=0.0, learning_decay=1.0, **prior)
    S_exact = 0.5 + p.n / 4.0
    m_exact = (0.5 * 0.3 + y.sum(-1) / 4.0) / S_exact
    return [compare("derived step (compiled)", SAME_CODE, False, (m[-1], mm), (S[-1], SS)),
            compare(f"classical.svi (Hoffman et al. 2013, M = {M} of N = {p.n})", SEQUENCE, True,
                    (m, np.stack([b[0] for b in book], 1)), (S, np.stack([b[1] for b in book], 1))),
            compare("exact posterior (one epoch, rho_t = 1/t, M = 1)", CLOSED_FORM, True,
                    (m1[-1], m_exact), (S1[-1], np.full(p.batch, S_exact)))]
