r"""Row check of ridge regression: one BLR step with ρ = 1 is the Gaussian posterior.

The public driver :func:`blrkit.algorithms.ridge` is compared, mean *and* precision (as the
covariance), with the posterior of :func:`blrkit.classical.ridge.ridge_svd` (an SVD of
the whitened, augmented design: no normal equations), and its mean with least squares on augmented data, a
Cholesky solve of SciPy and (if installed) scikit-learn. The recipe has ρ = 1 only.
"""

from __future__ import annotations

import numpy as np

from blrkit.verify.registry import CLOSED_FORM, SAME_CODE, Check, Problem, compare, optional, register, skipped


@register()
def ridge(p: Problem, recipe) -> list[Check]:
    import scipy.linalg

    from blrkit.algorithms import ridge as driver
    from blrkit.classical.ridge import ridge as classical
    from blrkit.classical.ridge import ridge_svd

    rng = p.rng()
    X = rng.standard_normal((p.batch, p.n, p.dim))
    y = (X @ rng.standard_normal((p.batch, p.dim, 1)))[..., 0] + 0.5 * rng.standard_normal((p.batch, p.n))
    alpha, s2 = 0.5, 0.3  # σ² ≠ 1 and α ≠ 1: a misplaced factor shows
    post = driver(X, y, alpha, noise_variance=s2)
    m, S = recipe.derive().compile()(X, y, alpha, s2)
    svd = [ridge_svd(X[b], y[b], alpha, s2) for b in range(p.batch)]
    textbook = np.stack([classical(X[b], y[b], s2 * alpha) for b in range(p.batch)])
    solved = np.stack([scipy.linalg.solve(X[b].T @ X[b] + s2 * alpha * np.eye(p.dim), X[b].T @ y[b], assume_a="pos")
                       for b in range(p.batch)])
    checks = [compare("derived step (compiled)", SAME_CODE, False, (m, post.mean), (S, post.precision)),
              compare("classical.ridge_svd (m, cov)", CLOSED_FORM, True,
                      (post.mean, np.stack([v[0] for v in svd])),
                      (np.linalg.inv(post.precision), np.stack([v[1] for v in svd]))),
              compare("classical.ridge (lstsq)", CLOSED_FORM, True, (post.mean, textbook)),
              compare("scipy.linalg.solve", CLOSED_FORM, True, (post.mean, solved))]
    name, lm = "sklearn Ridge", optional("sklearn.linear_model")
    if lm is None:
        return checks + [skipped(name, CLOSED_FORM)]
    sk = np.stack([lm.Ridge(alpha=s2 * alpha, fit_intercept=False, solver="svd").fit(X[b], y[b]).coef_
                   for b in range(p.batch)])
    return checks + [compare(name, CLOSED_FORM, True, (post.mean, sk))]
