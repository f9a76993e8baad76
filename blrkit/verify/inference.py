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


@register()
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


#: Bayesian linear regression: w ~ N(0, α⁻¹I), τ ~ Gamma(2, 3); q(τ) starts at the prior
REGRESSION = dict(alpha=0.5, noise_prior=(2.0, 3.0))


@register()
def vmp_regression(p: Problem, recipe) -> list:
    r"""VMP for Bayesian linear regression with an unknown noise precision, q(w) q(τ) (a full-covariance Gaussian
    × Gamma): the driver against the coordinate ascent written by hand (:mod:`blrkit.classical.vmp`) and against
    BayesPy's VB (``GaussianARD`` weights, ``Gamma`` noise, same order and start) on every sweep, the lower
    bound included."""
    from blrkit.algorithms import vmp_linear_regression as driver
    from blrkit.classical.vmp import linear_regression_cavi

    rng = p.rng()
    X = rng.normal(size=(p.batch, p.n, p.dim))
    y = np.einsum("bnd,d->bn", X, np.linspace(-1.0, 1.0, p.dim)) + rng.normal(scale=0.7, size=(p.batch, p.n))
    res = driver(X, y, n_steps=SWEEPS, **REGRESSION)
    a0, b0 = REGRESSION["noise_prior"]
    book = [linear_regression_cavi(X[b], y[b], alpha=REGRESSION["alpha"], a0=a0, b0=b0, n_steps=SWEEPS)
            for b in range(p.batch)]
    step = recipe.derive().compile()
    a, b_ = np.full(p.batch, a0), np.full(p.batch, b0)
    for _ in range(SWEEPS):
        m, S, a, b_ = step(a, b_, X, y, np.full(p.batch, REGRESSION["alpha"]), np.full(p.batch, a0), np.full(p.batch, b0))
    path = (("means", "means"), ("precisions", "precisions"), ("alphas", "shapes"), ("betas", "rates"), ("elbo", "elbo"))
    checks = [compare("derived sweep (compiled)", SAME_CODE, False, (res.means[-1], m), (res.betas[-1], b_)),
              compare(f"classical.vmp (mean-field CAVI, {SWEEPS} sweeps)", SEQUENCE, True,
                      *[(getattr(res, k), np.stack([getattr(c, kk) for c in book], 1)) for k, kk in path])]
    name = "BayesPy VB (E[w], E[ww^T], E[tau], E[log tau], bound; every sweep)"
    if optional("bayespy") is None:
        return checks + [skipped(name, SEQUENCE)]
    from scipy.special import digamma

    from blrkit.classical.vmp import bayespy_linear_regression_iterates

    pairs = []
    for b in range(p.batch):
        e_w, e_wwT, e_tau, e_logtau, bound = bayespy_linear_regression_iterates(
            X[b], y[b], alpha=REGRESSION["alpha"], a0=a0, b0=b0, n_steps=SWEEPS)
        mm, SS, aa, bb = res.means[1:, b], res.precisions[1:, b], res.alphas[1:, b], res.betas[1:, b]
        pairs += [(mm, e_w), (np.linalg.inv(SS) + mm[:, :, None] * mm[:, None, :], e_wwT), (aa / bb, e_tau),
                  (digamma(aa) - np.log(bb), e_logtau), (res.elbo[1:, b], bound)]
    return checks + [compare(name, SEQUENCE, True, *pairs)]


#: scikit-learn's digamma (AS 103) is accurate to ~2.4e-9 absolute, not to machine precision; through exp and the
#: local fixed point the topic parameters differ from an exact-digamma run by up to ~1.2e-8 relative (20 seeds)
SKLEARN_DIGAMMA = 1e-7


@register()
def svi_lda(p: Problem, recipe) -> list:
    r"""SVI for latent Dirichlet allocation: every minibatch's topic parameters λ (ρ_t = (10 + t)^(−0.7) < 1) and
    local γ against online LDA written by hand from Hoffman, Blei & Bach (2010, Alg. 2) (:mod:`blrkit.classical.lda`),
    and against scikit-learn's ``LatentDirichletAllocation(learning_method="online")`` with ``partial_fit`` per
    minibatch from the same λ₀ and γ starts (replayed from its random state), when installed."""
    from blrkit.algorithms import svi_lda as driver
    from blrkit.classical.lda import online_lda

    rng = p.rng()
    K, V, n_words, size = 3, 24, 32, 8
    topics = rng.dirichlet(np.full(V, 0.2), size=K)
    batches = []
    for _ in range(6):
        theta = rng.dirichlet(np.full(K, 0.5), size=size)
        batches.append(np.stack([rng.multinomial(n_words, th @ topics) for th in theta]).astype(float))
    prior = dict(doc_topic_prior=0.5, topic_word_prior=0.1, learning_offset=10.0, learning_decay=0.7, total_docs=200)
    name = "classical.lda (Hoffman et al. 2010, 6 minibatches)"
    lam0 = rng.gamma(100.0, 0.01, size=(K, V))
    book = online_lda(batches, K, lambda0=lam0, **prior)
    try:
        res = driver(batches, lambda0=lam0, **prior)
    except ValueError as e:
        return driver_raised(name, SEQUENCE, e)
    step = recipe.derive().compile()
    lam = lam0
    for t, c in enumerate(batches):
        lam, _ = step(lam, np.ones((len(c), K)), c, res.learning_rates[t], 0.5, 0.1, 200, 100, 1e-3)
    checks = [compare("derived step (compiled)", SAME_CODE, False, (res.topic_word[-1], lam)),
              compare(name, SEQUENCE, True, (res.topic_word, book.topic_word), (res.learning_rates, book.learning_rates),
                      *zip(res.doc_topic, book.doc_topic))]
    skl = "scikit-learn LatentDirichletAllocation (online, partial_fit per minibatch)"
    if optional("sklearn") is None:
        return checks + [skipped(skl, SKLEARN_DIGAMMA)]
    from blrkit.classical.lda import sklearn_online_lda_iterates

    run = sklearn_online_lda_iterates(batches, K, **prior)
    ours = driver(batches, lambda0=run.topic_word[0], doc_topic_init=run.doc_topic_init, **prior)
    return checks + [compare(skl, SKLEARN_DIGAMMA, True, (ours.topic_word, run.topic_word))]


#: EM's problem: K = 3 well-separated Gaussian clusters in D = 2, started from three data points and S_k = I
EM_K, EM_STEPS = 3, 15


@register()
def em(p: Problem, recipe) -> list:
    r"""EM for a full-covariance Gaussian mixture (ρ = 1, the delta method for the parameters; Sec. 5.2): every
    iterate of the driver against a textbook EM written by hand (:mod:`blrkit.classical.em`) and against
    scikit-learn's ``GaussianMixture(covariance_type="full", reg_covar=0)`` stepped one iteration per fit from
    the same start (when installed); the log-likelihood of every iterate against SciPy's Gaussian densities."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    from blrkit.algorithms import em_gaussian_mixture as driver
    from blrkit.classical.em import em_gaussian_mixture as classical

    rng = p.rng()
    centres = np.array([[-3.0, 0.0], [0.0, 3.0], [3.0, -1.0]])
    X = centres[rng.integers(EM_K, size=(p.batch, 2 * p.n))] + rng.normal(size=(p.batch, 2 * p.n, 2))
    w0 = np.full((p.batch, EM_K), 1 / EM_K)
    m0 = np.stack([X[b, rng.choice(2 * p.n, EM_K, replace=False)] for b in range(p.batch)])
    P0 = np.broadcast_to(np.eye(2), (p.batch, EM_K, 2, 2))
    book = [classical(X[b], w0[b], m0[b], P0[b], EM_STEPS) for b in range(p.batch)]
    try:
        res = driver(X, weights0=w0, means0=m0, precisions0=P0, n_steps=EM_STEPS)
    except ValueError as e:  # the textbook EM ran where the driver stopped
        return driver_raised(f"classical.em (textbook EM, {EM_STEPS} iterations)", SEQUENCE, e)
    step = recipe.derive().compile()
    from blrkit.algorithms.em import second_moments

    Xc = X - X.mean(-2, keepdims=True)
    state, XX = (w0, m0 - X.mean(-2, keepdims=True), P0), second_moments(Xc)
    for _ in range(EM_STEPS):
        state = step(Xc, XX, *state)[:3]
    path = ("weights", "means", "precisions", "log_likelihood")
    ll = np.array([[logsumexp([np.log(res.weights[t, b, k]) + multivariate_normal(
        res.means[t, b, k], np.linalg.inv(res.precisions[t, b, k])).logpdf(X[b]) for k in range(EM_K)], axis=0).sum()
        for b in range(p.batch)] for t in range(EM_STEPS + 1)])
    checks = [compare("derived step (compiled)", SAME_CODE, False, (res.weights[-1], state[0]),
                      (res.precisions[-1], state[2])),
              compare(f"classical.em (textbook EM, {EM_STEPS} iterations)", SEQUENCE, True,
                      *[(getattr(res, k), np.stack([getattr(b, k) for b in book], 1)) for k in path]),
              compare("log-likelihood (scipy.stats densities)", CLOSED_FORM, True, (res.log_likelihood, ll))]
    return checks + [_sklearn_em(X, w0, m0, P0, res)]


def _sklearn_em(X, w0, m0, P0, res) -> Check:
    """scikit-learn's ``GaussianMixture`` from the same start, one EM iteration per ``fit`` (``warm_start``);
    its ``lower_bound_`` is the mean log-likelihood of the parameters before that iteration's M-step."""
    name = "scikit-learn GaussianMixture (one iteration per fit)"
    if optional("sklearn") is None:
        return skipped(name, SEQUENCE)
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    pairs = []
    for b in range(X.shape[0]):
        gm = GaussianMixture(EM_K, covariance_type="full", reg_covar=0.0, max_iter=1, warm_start=True,
                             weights_init=w0[b], means_init=m0[b], precisions_init=P0[b])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for t in range(1, EM_STEPS + 1):
                gm.fit(X[b])
                pairs += [(res.weights[t, b], gm.weights_), (res.means[t, b], gm.means_),
                          (res.precisions[t, b], gm.precisions_),
                          (res.log_likelihood[t - 1, b], gm.lower_bound_ * X.shape[1])]
    return compare(name, SEQUENCE, True, *pairs)


@register()
def ncvmp(p: Problem, recipe) -> list:
    """Non-conjugate VMP (ρ = 1, Gauss–Hermite expectations) for Bayesian logistic regression: every iterate
    against Knowles & Minka's update in mean and variance written by hand with SciPy's adaptive quadrature
    (:mod:`blrkit.classical.ncvmp`), and the last iterate against the stationarity conditions of the
    evidence lower bound over Gaussians, :math:`S = \\alpha I + X^\\top\\mathbb E[f'']X` and
    :math:`\\alpha m + X^\\top\\mathbb E[f'] = 0`, evaluated by adaptive quadrature (exact Gaussian VI)."""
    from blrkit.algorithms import ncvmp_logistic as driver
    from blrkit.classical.ncvmp import dF, knowles_minka

    rng = p.rng()
    X = rng.standard_normal((p.batch, p.n, p.dim)) / np.sqrt(p.dim)
    y = np.where(rng.uniform(size=(p.batch, p.n)) < 1 / (1 + np.exp(-X @ np.ones(p.dim))), 1.0, 0.0)  # in {0, 1}
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
        d = dF(X[b] @ mb, np.einsum("nd,de,ne->n", X[b], V, X[b]), y[b])  # (∂F/∂μ, ∂F/∂v) per example
        residuals += [alpha * mb - X[b].T @ d[:, 0], res.precisions[-1, b] - (alpha * np.eye(p.dim)
                                                                               - 2 * X[b].T @ (d[:, 1:] * X[b]))]
        scale += [np.abs(X[b].T @ d[:, 0]).max(), np.abs(res.precisions[-1, b]).max()]
    error = max(np.abs(r).max() for r in residuals) / max(scale)
    return [compare("derived step (compiled)", SAME_CODE, False, (res.means[-1], m), (res.precisions[-1], S)),
            compare(name, SEQUENCE, True,
                    (res.means[:short + 1], np.stack([b_[0] for b_ in book], 1)),
                    (res.precisions[:short + 1], np.stack([b_[1] for b_ in book], 1))),
            Check("stationarity of the ELBO over Gaussians (adaptive quadrature)", float(error), SEQUENCE, True)]


@register()
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
