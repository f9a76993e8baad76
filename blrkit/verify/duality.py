r"""Rows of the "Duality" section: what a BLR solution gives beyond its algorithm (Khan & Rue 2023, Sec. 5).

Not recipes of the engine (nothing is derived): each row runs :mod:`blrkit.duality` on a seeded
problem and compares with counterparts that share no code with it.

* **identity** — :math:`\lambda_* = \lambda_0 + \sum_i\tilde\lambda_i`: the sites of
  :func:`~blrkit.duality.local_parameters`, summed, against the natural parameter of the posterior
  computed by the SVD ridge oracle (:func:`blrkit.classical.ridge.ridge_svd`) and by SciPy's
  trust-region MAP with the analytic Hessian (:func:`blrkit.classical.laplace.laplace` on
  :class:`blrkit.classical.problems.LogisticRegression`).
* **exact LOO (ridge)** — :func:`~blrkit.duality.leave_one_out` against N refits of the SVD oracle
  without each example: predictive mean, variance and log density (SciPy's normal).
* **K-prior reconstruction** — with the full past data as memory, :meth:`~blrkit.duality.KPrior.grad`
  against the old loss's gradient written by the textbook problem, at random θ; and the model adapted
  to new data against SciPy's MAP of all the data.
"""

from __future__ import annotations

import numpy as np

from blrkit.verify.registry import CLOSED_FORM, ITERATIVE, Check, Problem, compare, register_section_row

#: SciPy's trust-exact at gtol 1e-6 (below ~1e-7 it stalls: the loss no longer changes in float64).
#: λ* − λ₀ − Σλ̃_i is then the gradient at its MAP, ≤ 1e-6 absolute, far below ITERATIVE relative to
#: the scale of Sm; the precision half is exact to rounding.
_GTOL = 1e-6
#: the lecture notebook that shows these rows
NOTEBOOK = "notebooks/12_duality_and_memory.ipynb"


def _logistic(p: Problem, rng, *, n=None):
    from scipy.special import expit

    from blrkit.classical.problems import LogisticRegression

    n = n or p.n
    X = rng.standard_normal((n, p.dim)) * (2.0 / np.sqrt(p.dim))
    y = (rng.random(n) < expit(X @ rng.standard_normal(p.dim))).astype(float)
    return LogisticRegression(X, y, 0.7)


@register_section_row("duality_identity", group="Duality", notebook=NOTEBOOK, anchor="duality", family="multivariate-gaussian",
                      title="Sites sum to the posterior", approximations=("delta method",))
def identity(p: Problem) -> list[Check]:
    from blrkit.algorithms.results import GaussianPosterior
    from blrkit.classical.laplace import laplace as scipy_map
    from blrkit.classical.ridge import ridge_svd
    from blrkit.duality import local_parameters

    rng = p.rng()
    pairs_ridge, pairs_logistic = [], []
    for _ in range(p.batch):
        X = rng.standard_normal((p.n, p.dim))
        y = X @ rng.standard_normal(p.dim) + 0.5 * rng.standard_normal(p.n)
        alpha, s2 = 0.5, 0.3
        m, cov = ridge_svd(X, y, alpha, s2)
        S = np.linalg.inv(cov)
        sites = local_parameters(X, y, GaussianPosterior(m, S), likelihood="gaussian", prior_precision=alpha,
                                 noise_variance=s2, tol=1e-8)
        lam1, lam2 = sites.site_sums()
        pairs_ridge += [(lam1, S @ m), (-0.5 * alpha * np.eye(p.dim) + lam2, -0.5 * S)]

        prob = _logistic(p, rng)
        m, S = scipy_map(prob.loss, prob.grad, prob.hess, np.zeros(p.dim), gtol=_GTOL)
        sites = local_parameters(prob.X, prob.y, GaussianPosterior(m, S), likelihood="logistic",
                                 prior_precision=prob.alpha, tol=10 * _GTOL)
        lam1, lam2 = sites.site_sums()
        pairs_logistic += [(lam1, S @ m), (-0.5 * prob.alpha * np.eye(p.dim) + lam2, -0.5 * S)]
    return [compare("classical.ridge_svd posterior (Sm, −S/2)", CLOSED_FORM, True, *pairs_ridge),
            compare("scipy MAP + Hessian, logistic (Sm, −S/2)", ITERATIVE, True, *pairs_logistic)]


@register_section_row("duality_loo", group="Duality", notebook=NOTEBOOK, anchor="memory-perturbation", family="multivariate-gaussian",
                      title="Exact leave-one-out (ridge)", label="5", approximations=("rho = 1",),
                      elements=lambda p: 20.0 * p.batch * p.n * p.dim + 10.0 * p.n * p.dim ** 2)
def loo(p: Problem) -> list[Check]:
    from scipy import stats

    from blrkit.algorithms import ridge
    from blrkit.classical.ridge import ridge_svd
    from blrkit.duality import leave_one_out, local_parameters

    rng = p.rng()
    pairs = []
    for _ in range(p.batch):
        X = rng.standard_normal((p.n, p.dim))
        y = X @ rng.standard_normal(p.dim) + 0.5 * rng.standard_normal(p.n)
        alpha, s2 = 0.5, 0.3
        fit = leave_one_out(local_parameters(X, y, ridge(X, y, alpha, noise_variance=s2), likelihood="gaussian",
                                             prior_precision=alpha, noise_variance=s2))
        eta, var, lp = (np.empty(p.n) for _ in range(3))
        for i in range(p.n):
            keep = np.arange(p.n) != i
            m, cov = ridge_svd(X[keep], y[keep], alpha, s2)
            eta[i], var[i] = X[i] @ m, X[i] @ cov @ X[i]
            lp[i] = stats.norm.logpdf(y[i], eta[i], np.sqrt(var[i] + s2))
        pairs += [(fit.eta, eta), (fit.variance, var), (fit.log_predictive, lp)]
    return [compare(f"{p.n} refits, classical.ridge_svd", CLOSED_FORM, True, *pairs)]


@register_section_row("duality_kprior", group="Duality", notebook=NOTEBOOK, anchor="kprior", family="multivariate-gaussian",
                      title="K-prior gradient reconstruction", label="KS21", approximations=("delta method",))
def kprior_row(p: Problem) -> list[Check]:
    from blrkit.classical.laplace import laplace as scipy_map
    from blrkit.duality import fit_glm, kprior

    rng = p.rng()
    grads, adapted = [], []
    for _ in range(p.batch):
        prob = _logistic(p, rng)
        old = fit_glm(prob.X, prob.y, likelihood="logistic", prior_precision=prob.alpha, tol=1e-12)
        K = kprior(prob.X, old.mean, likelihood="logistic", prior_precision=prob.alpha)
        theta = rng.standard_normal((5, p.dim))
        grads.append((K.grad(theta), prob.grad(theta)))
        new = _logistic(p, rng, n=max(2, p.n // 5))
        mine = fit_glm(new.X, new.y, likelihood="logistic", prior_precision=None, penalty=K, tol=1e-12)
        both = type(prob)(np.concatenate([prob.X, new.X]), np.concatenate([prob.y, new.y]), prob.alpha)
        ref, _ = scipy_map(both.loss, both.grad, both.hess, np.zeros(p.dim), gtol=_GTOL)
        adapted.append((mine.mean, ref))
    return [compare("past gradient, classical.problems (M = N)", CLOSED_FORM, True, *grads),
            compare("adapted vs scipy MAP on all data", ITERATIVE, True, *adapted)]
