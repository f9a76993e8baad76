r"""Row checks of the mixture-of-Gaussians rows (Khan & Rue 2023, Sec. 3.2).

Multimodal optimisation on Himmelblau's function, whose four minima are known: from four spread
starts the driver (:func:`blrkit.algorithms.mixture_newton`, ρ = 0.3 < 1) is compared with the
hand-written loop of :mod:`blrkit.classical.mixture` on every iterate, its means with
``scipy.optimize.minimize`` from the same starts, its precisions with the Hessians at SciPy's minima,
and its weights with the normalised Laplace evidences :math:`e^{-\bar\ell(m_k)}\det S_k^{-1/2}` there.
"""

from __future__ import annotations

import numpy as np

from blrkit.verify.registry import ITERATIVE, SAME_CODE, SEQUENCE, Problem, compare, driver_raised, register

#: spread starts, one per basin of Himmelblau's function (its minima: (3, 2), (−2.81, 3.13),
#: (−3.78, −3.28), (3.58, −1.85))
STARTS = np.array([[2.5, 1.5], [-2.5, 2.5], [-3.0, -2.5], [3.0, -1.5]])


def himmelblau(th):
    x, y = th[..., 0], th[..., 1]
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def himmelblau_grad(th):
    x, y = th[..., 0], th[..., 1]
    a, b = x**2 + y - 11, x + y**2 - 7
    return np.stack([4 * x * a + 2 * b, 2 * a + 4 * y * b], axis=-1)


def himmelblau_hess(th):
    x, y = th[..., 0], th[..., 1]
    hxx = 12 * x**2 + 4 * y - 42
    hyy = 12 * y**2 + 4 * x - 26
    hxy = 4 * (x + y)
    return np.stack([np.stack([hxx, hxy], -1), np.stack([hxy, hyy], -1)], -2)


@register()
def multimodal(p: Problem, recipe) -> list:
    import scipy.optimize

    from blrkit.algorithms import mixture_newton as driver
    from blrkit.classical.mixture import mixture_newton as classical

    rng = p.rng()
    starts = STARTS + 0.2 * rng.uniform(-1, 1, (p.batch,) + STARTS.shape)  # (batch, K = 4, D = 2)
    S0, rho, T = 60.0 * np.eye(2), 0.3, 60
    book = [classical(himmelblau, himmelblau_grad, himmelblau_hess, starts[b], [S0] * 4, rho, T)
            for b in range(p.batch)]
    name = f"classical.mixture (K = 4, rho = {rho})"
    try:
        res = driver(himmelblau, himmelblau_grad, himmelblau_hess, starts, rho=rho, n_steps=T, precisions0=S0)
    except ValueError as e:  # the hand-written loop ran where the driver stopped: the row fails, saying why
        return driver_raised(name, SEQUENCE, e)
    step = recipe.derive().compile()
    m, S, v = starts, np.broadcast_to(S0, starts.shape + (2,)), np.zeros(starts.shape[:-1])
    for _ in range(T):
        m, S, v = step(m, S, v, np.full((p.batch, 1), rho), himmelblau_grad, himmelblau_hess, himmelblau)
    minima = np.array([[scipy.optimize.minimize(himmelblau, x, jac=himmelblau_grad, hess=himmelblau_hess,
                                                method="trust-exact", options={"gtol": 1e-12}).x
                        for x in row] for row in starts])
    hessians = himmelblau_hess(minima)
    evidence = -himmelblau(minima) - 0.5 * np.linalg.slogdet(hessians)[1]
    laplace = np.exp(evidence - evidence.max(-1, keepdims=True))
    laplace /= laplace.sum(-1, keepdims=True)
    return [compare("derived step (compiled)", SAME_CODE, False, (res.means, m), (res.precisions, S)),
            compare(name, SEQUENCE, True,
                    (res.mean_path, np.stack([b[0] for b in book], 1)),
                    (res.precision_path, np.stack([b[1] for b in book], 1)),
                    (res.weight_path, np.stack([b[2] for b in book], 1))),
            compare("scipy minimize trust-exact (4 starts)", ITERATIVE, True, (res.means, minima)),
            compare("Hessians at SciPy's minima", ITERATIVE, True, (res.precisions, hessians)),
            compare("Laplace evidences at SciPy's minima", ITERATIVE, True, (res.weights, laplace))]


#: the target of Lin, Khan & Schmidt (2019) in one dimension: 0.3 N(−2, 0.5²) + 0.7 N(2, 1)
TARGET = (np.array([0.3, 0.7]), np.array([-2.0, 2.0]), np.array([0.25, 1.0]))


def bimodal():
    """ℓ̄ = −log of the target, its gradient and Hessian, at θ (..., 1)."""
    w, mu, var = TARGET

    def parts(th):
        c = np.log(w) - 0.5 * np.log(2 * np.pi * var) - (th - mu) ** 2 / (2 * var)
        lp = np.logaddexp.reduce(c, axis=-1)
        return lp, np.exp(c - lp[..., None]), -(th - mu) / var

    def loss(th):
        return -parts(th)[0]

    def grad(th):
        _, r, s = parts(th)
        return -np.sum(r * s, axis=-1, keepdims=True)

    def hess(th):
        _, r, s = parts(th)
        return -(np.sum(r * (s**2 - 1 / var), -1) - np.sum(r * s, -1) ** 2)[..., None, None]
    return loss, grad, hess


@register()
def ncvi(p: Problem, recipe) -> list:
    """Non-conjugate VI with a mixture (Sec. 5.4) on the bimodal target, which is in the family: from the
    starts (−3, 3) (jittered per problem), ρ = 0.2, ρ_π = 0.1, 4 samples per component.  The driver
    against the hand-written loop of :mod:`blrkit.classical.mixture` on the same draws (every iterate), and
    its last iterate against the target's weights, means and variances (closed form: at q = target every
    Monte-Carlo estimate is exactly zero, so the iteration settles there to rounding)."""
    from blrkit.algorithms import mixture_vi as driver
    from blrkit.classical.mixture import mixture_vi as classical

    loss, grad, hess = bimodal()
    rng = p.rng()
    starts = np.array([[-3.0], [3.0]]) + 0.2 * rng.uniform(-1, 1, (p.batch, 2, 1))
    S0, rho, rho_pi, K, T = np.eye(1), 0.2, 0.1, 4, 250
    short = 5  # the hand-written loop is slow (loops over samples and components): the first steps
    book = classical(loss, grad, hess, starts[0], [S0, S0], [0.5, 0.5], rho, rho_pi, short, K,
                     np.random.default_rng(p.seed))
    name = f"classical.mixture_vi (first {short} steps, same draws)"
    try:
        res = driver(loss, grad, hess, starts, rho=rho, rho_weights=rho_pi, n_steps=T, precisions0=S0,
                     n_samples=K, rng=p.seed)
        one = driver(loss, grad, hess, starts[0], rho=rho, rho_weights=rho_pi, n_steps=short, precisions0=S0,
                     n_samples=K, rng=p.seed)
    except ValueError as e:  # the hand-written loop ran where the driver stopped: the row fails, saying why
        return driver_raised(name, SEQUENCE, e)
    step = recipe.derive().compile()
    draws = np.random.default_rng(p.seed)
    m, S, v = starts, np.broadcast_to(S0, starts.shape + (1,)), np.zeros(starts.shape[:-1])
    for _ in range(T):
        m, S, v = step(m, S, v, np.full((p.batch, 1), rho), rho_pi, grad, hess, loss, K, draws)
    w, mu, var = TARGET
    return [compare("derived step (compiled)", SAME_CODE, False, (res.means, m), (res.precisions, S)),
            compare(name, SEQUENCE, True,
                    (one.mean_path, book[0]), (one.precision_path, book[1]), (one.weight_path, book[2])),
            compare("the target 0.3 N(-2, 0.5^2) + 0.7 N(2, 1) (closed form)", SEQUENCE, True,
                    (res.weights, np.broadcast_to(w, res.weights.shape)),
                    (res.means[..., 0], np.broadcast_to(mu, res.weights.shape)),
                    (1 / res.precisions[..., 0, 0], np.broadcast_to(var, res.weights.shape)))]


@register()
def dropout(p: Problem, recipe) -> list:
    """Dropout (Sec. 4.3) on least squares: the driver against DropConnect SGD written by hand on the same
    minibatches and masks (step ρN/(Mp)), and its ``keep_prob * means`` against inverted dropout by hand
    (step ρNp/M, forward pass at z ⊙ w̃ / p); keep probability 0.7, ρ = 0.01 < 1, M < N."""
    from blrkit.algorithms import dropout_sgd as driver
    from blrkit.classical.dropout import dropconnect, inverted_dropout

    rng = p.rng()
    X = rng.standard_normal((p.n, p.dim))
    y = X @ rng.standard_normal(p.dim) + 0.1 * rng.standard_normal(p.n)

    def grad_batch(theta, idx):  # Σ_{i∈idx} ∇ ½(x_iᵀθ − y_i)²
        return ((theta @ X[idx].T) - y[idx]) @ X[idx]

    keep, rho, N, M, T = 0.7, 0.01, p.n, max(1, p.n // 4), 60
    res = driver(grad_batch, np.zeros(p.dim), rho=rho, keep_prob=keep, n_steps=T, n_data=N, batch_size=M, rng=p.seed)
    lr = rho * N / M
    connect = dropconnect(grad_batch, np.zeros(p.dim), lr / keep, keep, T, N, M, np.random.default_rng(p.seed))
    inverted = inverted_dropout(grad_batch, np.zeros(p.dim), lr * keep, keep, T, N, M, np.random.default_rng(p.seed))
    step, m, draws = recipe.derive().compile(), np.zeros(p.dim), np.random.default_rng(p.seed)
    for _ in range(T):
        idx = np.sort(draws.choice(N, M, replace=False))
        m = step(m, rho, keep, lambda th, idx=idx: grad_batch(th, idx), N, M, draws)
    return [compare("derived step (compiled)", SAME_CODE, False, (res.means[-1], m)),
            compare(f"classical.dropout.dropconnect (keep 0.7, M = {M} of N = {N})", SEQUENCE, True,
                    (res.means, connect)),
            compare("classical.dropout.inverted_dropout (m~ = p m)", SEQUENCE, True, (keep * res.means, inverted))]


@register()
def dropout_noise(p: Problem, recipe) -> list:
    """Dropout with a slab of finite variance (σ = 0.3) on least squares: the driver against DropConnect with
    Gaussian noise on the kept weights written by hand on the same minibatches, masks and noise (step ρN/(Mp));
    keep probability 0.7, ρ = 0.01 < 1, M < N."""
    from blrkit.algorithms import dropout_sgd as driver
    from blrkit.classical.dropout import noisy_dropconnect

    rng = p.rng()
    X = rng.standard_normal((p.n, p.dim))
    y = X @ rng.standard_normal(p.dim) + 0.1 * rng.standard_normal(p.n)

    def grad_batch(theta, idx):  # Σ_{i∈idx} ∇ ½(x_iᵀθ − y_i)²
        return ((theta @ X[idx].T) - y[idx]) @ X[idx]

    keep, rho, sd, N, M, T = 0.7, 0.01, 0.3, p.n, max(1, p.n // 4), 60
    res = driver(grad_batch, np.zeros(p.dim), rho=rho, keep_prob=keep, slab_sd=sd, n_steps=T, n_data=N, batch_size=M,
                 rng=p.seed)
    book = noisy_dropconnect(grad_batch, np.zeros(p.dim), rho * N / (M * keep), keep, sd, T, N, M,
                             np.random.default_rng(p.seed))
    step, m, draws = recipe.derive().compile(), np.zeros(p.dim), np.random.default_rng(p.seed)
    for _ in range(T):
        idx = np.sort(draws.choice(N, M, replace=False))
        m = step(m, rho, keep, sd, lambda th, idx=idx: grad_batch(th, idx), N, M, draws)
    return [compare("derived step (compiled)", SAME_CODE, False, (res.means[-1], m)),
            compare(f"classical.dropout.noisy_dropconnect (sigma 0.3, keep 0.7, M = {M} of N = {N})", SEQUENCE, True,
                    (res.means, book))]
