r"""Row checks of the Gaussian rows: gradient descent, SGD, Newton (plain, damped, diagonal,
variational), Laplace, OGN and VOGN.

Each check runs the public driver of :mod:`blrkit.algorithms` on a seeded logistic regression
(or a separable or quartic loss where the row needs one) and compares every output (the means
and, where the row has one, the precisions) at every iterate with a hand-written loop of
:mod:`blrkit.classical`, and the end point with SciPy's and scikit-learn's optimum. Rows with a
learning rate are run at ρ < 1, the minibatch rows with M ≠ N (so the N/M scale shows). The
step compiled from the derivation is compared with the driver as a freshness check.
"""

from __future__ import annotations

import numpy as np

from blrkit.verify.registry import (
    CLOSED_FORM, ITERATIVE, SAME_CODE, SEQUENCE, Check, Problem, compare, optional, register, skipped,
)

# -- shared problems and counterparts --------------------------------------------------------------


def logistic(p: Problem):
    """A batch of seeded logistic regressions and the same problems one at a time."""
    from blrkit.classical.problems import LogisticRegression, logistic_problem

    batched = logistic_problem(p.rng(), p.n, p.dim, alpha=1.0, batch=(p.batch,))
    singles = [LogisticRegression(batched.X[b], batched.y[b], batched.alpha) for b in range(p.batch)]
    return batched, singles


def scipy_map(single, x0):
    """The MAP of one logistic regression by ``scipy.optimize.minimize`` (trust-exact)."""
    import scipy.optimize

    # near the optimum trust-exact may stop with "bad approximation" (the loss no longer changes in
    # float64) and report failure although x is accurate: the measured error is the verdict
    return scipy.optimize.minimize(single.loss, x0, jac=single.grad, hess=single.hess, method="trust-exact",
                                   options={"gtol": 1e-10}).x


def map_checks(means, singles, alpha=1.0) -> list[Check]:
    """The final means against SciPy's and (if installed) scikit-learn's MAPs."""
    x0 = np.zeros(means.shape[-1])
    checks = [compare("scipy minimize trust-exact", ITERATIVE, True,
                      (means, np.stack([scipy_map(s, x0) for s in singles])))]
    name, lm = "sklearn LogisticRegression", optional("sklearn.linear_model")
    if lm is None:
        return checks + [skipped(name, ITERATIVE)]
    if any(len(np.unique(s.y)) < 2 for s in singles):  # scikit-learn fits no one-class data
        return checks + [Check(name, None, ITERATIVE, True, "skipped (labels of one class only)")]
    sk = np.stack([lm.LogisticRegression(solver="newton-cholesky", C=1 / alpha, fit_intercept=False,
                                         tol=1e-12, max_iter=200).fit(s.X, s.y).coef_[0] for s in singles])
    return checks + [compare(name, ITERATIVE, True, (means, sk))]


def loop(step, state, n_steps, *args):
    """Iterate a compiled step ``n_steps`` times, feeding back the first ``len(state)`` outputs.

    Returns every iterate of each state variable, stacked: a tuple of ``(n_steps + 1, ...)`` arrays.
    """
    paths = [[s] for s in state]
    for _ in range(n_steps):
        out = step(*state, *args)
        out = out if isinstance(out, tuple) else (out,)
        state = out[:len(state)]
        for path, s in zip(paths, state):
            path.append(s)
    return tuple(np.stack(path) for path in paths)


def per_problem(fn, b, shape):
    """Problem ``b`` of a batched function of θ ``shape``: a function of one ``(D,)`` vector."""
    return lambda x: np.asarray(fn(np.broadcast_to(x, shape)))[b]


def stable_rho(singles) -> float:
    """ρ = 1/L with L ≥ the largest Hessian eigenvalue of every problem (‖X‖²/4 + α): ρ < 1."""
    return 1.0 / max(np.linalg.norm(s.X, 2) ** 2 / 4 + s.alpha for s in singles)


# -- gradient descent and SGD -----------------------------------------------------------------------

@register()
def gradient_descent(p: Problem, recipe) -> list[Check]:
    from blrkit.algorithms import gradient_descent as driver
    from blrkit.classical.gradient_descent import gradient_descent as classical

    prob, singles = logistic(p)
    rho, m0, K = stable_rho(singles), np.zeros((p.batch, p.dim)), 50
    means = driver(prob.grad, m0, rho=rho, n_steps=K).means
    derived, = loop(recipe.derive().compile(), (m0,), K, rho, prob.grad)
    textbook = np.stack([classical(s.grad, m0[b], rho, K) for b, s in enumerate(singles)], axis=1)
    return [compare("derived step (compiled)", SAME_CODE, False, (derived, means)),
            compare("classical.gradient_descent", CLOSED_FORM, True, (means, textbook))]


def _terms(prob, N):
    """``grad_terms(θ, idx)``: Σ_{i∈idx} ∇ℓ_i(θ) of a batched logistic regression, each term
    carrying its share α/N of the prior."""
    def grad_terms(m, idx):
        X, y = prob.X[:, idx], prob.y[:, idx]
        f = (X @ m[..., None])[..., 0]
        r = 1 / (1 + np.exp(-f)) - y
        return (np.swapaxes(X, -1, -2) @ r[..., None])[..., 0] + prob.alpha * m * len(idx) / N
    return grad_terms


@register()
def sgd(p: Problem, recipe) -> list[Check]:
    from blrkit.algorithms import stochastic_gradient_descent as driver
    from blrkit.classical.sgd import sgd as classical

    prob, singles = logistic(p)
    N, M, K = p.n, max(1, p.n // 4), 50  # M ≠ N: the step's N/M scale matters
    rho, m0 = stable_rho(singles), np.zeros((p.batch, p.dim))
    grad_terms = _terms(prob, N)
    means = driver(grad_terms, m0, rho=rho, n_steps=K, n_data=N, batch_size=M, rng=p.seed).means
    # the same minibatches as the driver: sorted(rng.choice(N, M)) from the same seed
    draws = np.random.default_rng(p.seed)
    batches = [np.sort(draws.choice(N, M, replace=False)) for _ in range(K)]
    k = iter(batches)
    derived, = loop(recipe.derive().compile(), (m0,), K, rho, lambda m: grad_terms(m, next(k)), N, M)
    textbook = np.stack([classical(lambda x, idx, b=b: grad_terms(np.broadcast_to(x, m0.shape), idx)[b],
                                   m0[b], rho, K, N, M, np.random.default_rng(p.seed))
                         for b in range(p.batch)], axis=1)
    return [compare("derived step (compiled)", SAME_CODE, False, (derived, means)),
            compare(f"classical.sgd (M = {M} of N = {N})", CLOSED_FORM, True, (means, textbook))]


# -- Newton: plain, damped, Laplace, diagonal, variational ------------------------------------------

@register()
def newton(p: Problem, recipe) -> list[Check]:
    from blrkit.algorithms import newton as driver
    from blrkit.classical.newton import newton as classical

    prob, singles = logistic(p)
    m0, K = np.zeros((p.batch, p.dim)), 10
    res = driver(prob.grad, prob.hess, m0, n_steps=K)
    step, m, derived, S = recipe.derive().compile(), m0, [m0], []
    for _ in range(K):
        m, S_new = step(m, prob.grad, prob.hess)
        derived.append(m)
        S.append(S_new)
    # ρ = 1: S_t is the Hessian at the previous textbook iterate
    textbook = np.stack([classical(s.grad, s.hess, m0[b], K) for b, s in enumerate(singles)], axis=1)
    hessians = np.stack([[s.hess(x) for x in textbook[:-1, b]] for b, s in enumerate(singles)], axis=1)
    return [compare("derived step (compiled)", SAME_CODE, False, (np.stack(derived), res.means),
                    (np.stack(S), res.precisions[1:])),
            compare("classical.newton (+ Hessians)", SEQUENCE, True,
                    (res.means, textbook), (res.precisions[1:], hessians))] + map_checks(res.means[-1], singles)


@register()
def damped_newton(p: Problem, recipe) -> list[Check]:
    from blrkit.algorithms import newton as driver
    from blrkit.classical.newton import blr_newton

    prob, singles = logistic(p)
    m0, K, rho = np.zeros((p.batch, p.dim)), 60, 0.5
    S0 = prob.hess(m0) + np.eye(p.dim)  # not the Hessian at m0: the averaging of S_0 shows
    res = driver(prob.grad, prob.hess, m0, n_steps=K, rho=rho, precision0=S0)
    derived, S = loop(recipe.derive().compile(), (m0, S0), K, rho, prob.grad, prob.hess)
    xs, Ss = zip(*(blr_newton(s.grad, s.hess, m0[b], S0[b], rho, K) for b, s in enumerate(singles)))
    return [compare("derived step (compiled)", SAME_CODE, False, (derived, res.means), (S, res.precisions)),
            compare("classical.blr_newton (rho = 0.5)", SEQUENCE, True,
                    (res.means, np.stack(xs, axis=1)), (res.precisions, np.stack(Ss, axis=1)))
            ] + map_checks(res.means[-1], singles)


@register()
def laplace(p: Problem, recipe) -> list[Check]:
    from blrkit.algorithms import laplace as driver
    from blrkit.classical.newton import blr_newton, newton_minimize

    prob, singles = logistic(p)
    m0, rho, K = np.zeros((p.batch, p.dim)), 0.5, 3
    S0 = prob.hess(m0) + np.eye(p.dim)  # not the Hessian at m0: the averaging of S_0 shows
    # the iterates: with tol = 1e300 the driver stops after one step; chain K of them at ρ = 0.5
    m, S, ms, Ss = m0, S0, [m0], [S0]
    for _ in range(K):
        post = driver(prob.grad, prob.hess, m, rho=rho, precision0=S, tol=1e300)
        m, S = post.mean, post.precision
        ms.append(m)
        Ss.append(S)
    derived = loop(recipe.derive().compile(), (m0, S0), K, rho, prob.grad, prob.hess)
    runs = [blr_newton(s.grad, s.hess, m0[b], S0[b], rho, K) for b, s in enumerate(singles)]
    checks = [compare("derived step (compiled)", SAME_CODE, False, (derived[0], np.stack(ms)), (derived[1], np.stack(Ss))),
              compare(f"classical.blr_newton (rho = {rho:g})", SEQUENCE, True,
                      (np.stack(ms), np.stack([r[0] for r in runs], axis=1)),
                      (np.stack(Ss), np.stack([r[1] for r in runs], axis=1)))]
    # the fixed point: Laplace's N(θ_MAP, ∇²ℓ̄(θ_MAP)⁻¹), θ_MAP by a hand-written Newton loop and by SciPy
    maps = np.stack([newton_minimize(s.grad, s.hess, m0[b])[0] for b, s in enumerate(singles)])
    name = "classical.newton_minimize (MAP, Hessian)"
    try:
        post = driver(prob.grad, prob.hess, m0, rho=rho, precision0=S0, max_steps=500)
    except (RuntimeError, ValueError) as e:  # the driver found no fixed point where the oracle did
        return checks + [Check(name, float("nan"), ITERATIVE, True, f"the driver failed: {e}")]
    checks.append(compare(name, ITERATIVE, True, (post.mean, maps), (post.precision, prob.hess(maps))))
    return checks + map_checks(post.mean, singles)


def _separable(p: Problem):
    """ℓ̄(θ) = Σ_j c_j log(1 + e^{θ_j}) − b_j θ_j + θ_j²/2: a loss whose Hessian is diagonal."""
    from scipy.special import expit

    rng = p.rng()
    c, b = rng.uniform(1, 5, (p.batch, p.dim)), rng.standard_normal((p.batch, p.dim))

    def loss(x, i):
        return np.sum(c[i] * np.logaddexp(0, x) - b[i] * x + x ** 2 / 2)
    return loss, (lambda m: c * expit(m) - b + m), (lambda m: c * expit(m) * expit(-m) + 1)


@register()
def diagonal_newton(p: Problem, recipe) -> list[Check]:
    import scipy.optimize

    from blrkit.algorithms import diagonal_newton as driver
    from blrkit.classical.diagonal_newton import diagonal_newton as classical

    loss, grad, hess_diag = _separable(p)
    m0, K, rho = np.zeros((p.batch, p.dim)), 40, 0.5
    s0 = hess_diag(m0) + 1.0  # not the curvature at m0: the averaging of s_0 shows
    res = driver(grad, hess_diag, m0, n_steps=K, rho=rho, precision0=s0)
    derived, s = loop(recipe.derive().compile(), (m0, s0), K, rho, grad, hess_diag)
    runs = [classical(per_problem(grad, i, m0.shape), per_problem(hess_diag, i, m0.shape), m0[i], s0[i], rho, K)
            for i in range(p.batch)]
    maps = np.stack([scipy.optimize.minimize(loss, m0[i], args=(i,), jac=lambda x, i: grad(np.broadcast_to(x, m0.shape))[i],
                                             method="BFGS", options={"gtol": 1e-12}).x for i in range(p.batch)])
    return [compare("derived step (compiled)", SAME_CODE, False, (derived, res.means), (s, res.precisions)),
            compare("classical.diagonal_newton (rho = 0.5)", SEQUENCE, True,
                    (res.means, np.stack([r[0] for r in runs], axis=1)),
                    (res.precisions, np.stack([r[1] for r in runs], axis=1))),
            compare("scipy minimize BFGS (+ diag Hessian)", ITERATIVE, True,
                    (res.means[-1], maps), (res.precisions[-1], hess_diag(maps)))]


class SigmaPoints(np.random.Generator):
    """A generator whose normal draws are the 2D points ±√D e_i (a stand-in for a seeded one).

    They have mean 0 and covariance I, and kill every odd moment, so a Monte-Carlo average over
    them is *exact* for polynomials of degree ≤ 3 in θ: the driver's estimates of E_q[∇ℓ̄] and
    E_q[∇²ℓ̄] become the closed forms of a quartic loss.
    """

    def __init__(self):
        super().__init__(np.random.PCG64(0))

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        n, D = size[0], size[-1]
        if n != 2 * D:
            raise ValueError("use n_samples = 2D with sigma points")
        pts = np.sqrt(D) * np.concatenate([np.eye(D), -np.eye(D)])
        return np.broadcast_to(pts.reshape((n,) + (1,) * (len(size) - 2) + (D,)), size).copy()


def _vectorise(fn, data_ndim):
    """Let a function of θ ``(batch, D)`` also take ``(k, batch, D)`` (the Monte-Carlo samples)."""
    def wrapped(th):
        return fn(th) if th.ndim == data_ndim - 1 else np.stack([fn(t) for t in th])
    return wrapped


# the Hessians at 2D sigma points: (2D, batch, n, D) intermediates and (2D, batch, D, D) results
@register(elements=lambda p: 4.0 * 2 * p.dim * p.batch * (p.n * p.dim + p.dim ** 2))
def variational_newton(p: Problem, recipe) -> list[Check]:
    from blrkit.algorithms import variational_newton as driver
    from blrkit.classical.variational_newton import quartic_vi

    # ℓ̄(θ) = Σ_i (x_iᵀθ)⁴/12 − yᵀXθ + ‖θ‖²/2 (see classical.quartic_vi)
    rng = p.rng()
    X = rng.standard_normal((p.batch, p.n, p.dim)) / np.sqrt(p.n)
    y = rng.standard_normal((p.batch, p.n))
    Xt = np.swapaxes(X, -1, -2)
    grad = _vectorise(lambda th: (Xt @ ((X @ th[..., None])[..., 0] ** 3 / 3)[..., None])[..., 0]
                      - (Xt @ y[..., None])[..., 0] + th, X.ndim)
    hess = _vectorise(lambda th: Xt @ (((X @ th[..., None])[..., 0] ** 2)[..., None] * X) + np.eye(p.dim), X.ndim)
    m0, K, rho = rng.standard_normal((p.batch, p.dim)), 8, 0.5
    S0 = np.broadcast_to(2 * np.eye(p.dim), (p.batch, p.dim, p.dim))
    res = driver(grad, hess, m0, n_steps=K, rho=rho, precision0=S0, n_samples=2 * p.dim, rng=SigmaPoints())
    derived, S = loop(recipe.derive().compile(), (m0, S0), K, rho, grad, hess, 2 * p.dim, SigmaPoints())
    exact = [quartic_vi(X[b], y[b], m0[b], S0[b], rho, K) for b in range(p.batch)]
    return [compare("derived step (compiled)", SAME_CODE, False, (derived, res.means), (S, res.precisions)),
            compare("classical.quartic_vi (exact E_q, rho = 0.5)", CLOSED_FORM, True,
                    (res.means, np.stack([e[0] for e in exact], axis=1)),
                    (res.precisions, np.stack([e[1] for e in exact], axis=1)))]


@register(elements=lambda p: 4.0 * 2 * p.dim * p.batch * (p.n * p.dim + p.dim ** 2))
def variational_newton_improved(p: Problem, recipe) -> list[Check]:
    """The improved BLR (Lin, Schmidt & Khan 2020) on a non-convex loss, ρ = 0.9: the driver
    (``rule="improved"``) against :func:`blrkit.classical.variational_newton.variational_newton` with
    ``rule="improved"`` (the retraction form S + ρG + ρ²/2 G S⁻¹G, written by hand) on the same draws,
    every iterate of mean and precision; the plain rule's precision leaves the cone on this problem."""
    from blrkit.algorithms import variational_newton as driver
    from blrkit.classical.variational_newton import variational_newton as classical

    # ℓ(θ) = Σ_j (θ_j⁴ − 2θ_j²) + θ_1/2 per problem: 12θ² − 4 < 0 near the origin
    grad = _vectorise(lambda th: 4 * th**3 - 4 * th + 0.5 * (np.arange(th.shape[-1]) == 0), 3)
    hess = _vectorise(lambda th: np.eye(th.shape[-1]) * (12 * th**2 - 4)[..., None, :], 3)
    rng = p.rng()
    m0, K, rho = 0.1 * rng.standard_normal((p.batch, p.dim)), 20, 0.9
    S0 = np.broadcast_to(10 * np.eye(p.dim), (p.batch, p.dim, p.dim))
    res = driver(grad, hess, m0, n_steps=K, rho=rho, precision0=S0, n_samples=2 * p.dim, rng=SigmaPoints(),
                 rule="improved")
    derived, S = loop(recipe.derive().compile(), (m0, S0), K, rho, grad, hess, 2 * p.dim, SigmaPoints())
    eps = np.broadcast_to(SigmaPoints().standard_normal((2 * p.dim, p.dim)), (K, 2 * p.dim, p.dim))
    by_hand = [classical(per_problem(grad, b, (p.batch, p.dim)), per_problem(hess, b, (p.batch, p.dim)),
                         m0[b], S0[b], rho, eps, rule="improved") for b in range(p.batch)]
    return [compare("derived step (compiled)", SAME_CODE, False, (derived, res.means), (S, res.precisions)),
            compare("classical.variational_newton (improved, rho = 0.9)", SEQUENCE, True,
                    (res.means, np.stack([h[0] for h in by_hand], axis=1)),
                    (res.precisions, np.stack([h[1] for h in by_hand], axis=1)))]


# -- OGN and VOGN ----------------------------------------------------------------------------------

def _per_example_logistic(p: Problem):
    """Logistic regression as a sum of N terms, each carrying its share α/N of the prior:
    ``terms(θ, idx)`` → ∇ℓ_i(θ), i ∈ idx, ``(..., M, D)`` for θ ``(..., batch, D)``."""
    prob, _ = logistic(p)
    X, y, N = prob.X, prob.y, p.n

    def terms(theta, idx):
        Xb = X[:, idx]  # (batch, M, D)
        f = np.einsum("...bd,bmd->...bm", theta, Xb)
        r = 1 / (1 + np.exp(-f)) - y[:, idx]
        return r[..., None] * Xb + prob.alpha / N * theta[..., None, :]
    return terms


def _ogn_checks(p: Problem, recipe, driver, classical, name, n_samples=None, rule=None) -> list[Check]:
    """The driver against the hand-written loop (both outputs, every iterate, M ≠ N, ρ < 1), one
    problem at a time on the same minibatches and samples; and the compiled derivation against
    the driver (freshness), batched."""
    terms = _per_example_logistic(p)
    N, M, K, rho = p.n, max(1, p.n // 4), 30, 0.2
    mc = {} if n_samples is None else {"n_samples": n_samples}
    ruled = {} if rule is None else {"rule": rule}
    m0, s0 = np.zeros(p.dim), np.full(p.dim, float(N))
    pairs = []
    for b in range(p.batch):
        def one(x, idx, b=b):
            return terms(x[..., None, :].repeat(p.batch, -2), idx)[..., b, :, :]
        res = driver(one, m0, rho=rho, n_steps=K, n_data=N, batch_size=M, precision0=s0, rng=p.seed, **mc, **ruled)
        xs, ss = classical(lambda x, idx, b=b: terms(np.broadcast_to(x, (p.batch, p.dim)), idx)[b], m0, s0, rho,
                           K, N, M, *mc.values(), np.random.default_rng(p.seed), **ruled)
        pairs += [(res.means, xs), (res.precisions, ss)]
    # freshness: the compiled derivation against the batched driver on the same minibatches
    mb, sb = np.zeros((p.batch, p.dim)), np.full((p.batch, p.dim), float(N))
    res = driver(terms, mb, rho=rho, n_steps=K, n_data=N, batch_size=M, precision0=sb, rng=p.seed, **mc, **ruled)
    draws = np.random.default_rng(p.seed)
    k = iter(range(K))
    if n_samples is None:
        batches = [np.sort(draws.choice(N, M, replace=False)) for _ in range(K)]
        derived = loop(recipe.derive().compile(), (mb, sb), K, rho, lambda th: _sums(terms(th, batches[next(k)])), N, M)
    else:  # the driver draws a minibatch, then the samples, from one generator
        derived = _vogn_derived(recipe, mb, sb, rho, K, N, M, n_samples, terms, draws)
    return [compare("derived step (compiled)", SAME_CODE, False, (derived[0], res.means), (derived[1], res.precisions)),
            compare(f"classical.{name} ({rule + ', ' if rule else ''}M = {M} of N = {N})",
                    CLOSED_FORM, True, *pairs)]


def _sums(G):
    """(Σ_i ∇ℓ_i, Σ_i ∇ℓ_i²) of per-example gradients stacked on axis −2: the emitted steps' oracle."""
    return G.sum(axis=-2), (G**2).sum(axis=-2)


def _vogn_derived(recipe, m, s, rho, K, N, M, n_samples, terms, draws):
    """K steps of the compiled VOGN derivation, drawing each minibatch and then the samples from
    ``draws`` in the driver's order: ``(means, precisions)``."""
    step = recipe.derive().compile()
    ms, ss = [m], [s]
    for _ in range(K):
        idx = np.sort(draws.choice(N, M, replace=False))
        m, s = step(m, s, rho, lambda th, idx=idx: _sums(terms(th, idx)), N, M, n_samples, draws)
        ms.append(m)
        ss.append(s)
    return np.stack(ms), np.stack(ss)


@register()
def ogn(p: Problem, recipe) -> list[Check]:
    from blrkit.algorithms import online_gauss_newton
    from blrkit.classical.ogn import online_gauss_newton as classical

    return _ogn_checks(p, recipe, online_gauss_newton, classical, "ogn")


@register()
def vogn(p: Problem, recipe) -> list[Check]:
    from blrkit.algorithms import vogn as driver
    from blrkit.classical.ogn import vogn as classical

    return _ogn_checks(p, recipe, driver, classical, "vogn", n_samples=3)


@register()
def vogn_improved(p: Problem, recipe) -> list[Check]:
    """VOGN with the improved BLR's precision step, against the hand-written loop in its retraction form."""
    from blrkit.algorithms import vogn as driver
    from blrkit.classical.ogn import vogn as classical

    return _ogn_checks(p, recipe, driver, classical, "vogn", n_samples=3, rule="improved")
