r"""Row checks of the binary-weight rows: BayesBiNN and STE (Khan & Rue 2023, Sec. 4.5).

A linear classifier with P binary weights and the logistic loss.  BayesBiNN (ρ = 0.05 < 1, τ = 0.5, two
samples, full batch) against Algorithm 1 of Meng, Bachmann & Khan written by hand
(:func:`blrkit.classical.binary.bayesbinn`) on the same uniforms, every iterate; STE against BinaryConnect
written by hand (:func:`blrkit.classical.binary.ste`), every latent weight, to the last bits.
"""

from __future__ import annotations

import numpy as np

from blrkit.verify.registry import ITERATIVE, SAME_CODE, SEQUENCE, Problem, compare, driver_raised, register

_P = 6  # binary weights: small enough to enumerate 2^P in the tests


def _classifier(p: Problem):
    """X (N, P), labels y in {0, 1}, and the mean logistic-loss gradient in w at minibatch idx."""
    rng = p.rng()
    X = rng.standard_normal((p.n, _P)) / np.sqrt(_P)
    y = np.where(X @ np.sign(rng.standard_normal(_P)) + 0.3 * rng.standard_normal(p.n) > 0, 1.0, 0.0)

    def grad_batch(w, idx):
        Xb, yb = X[idx], y[idx]
        r = 1 / (1 + np.exp(-(w @ Xb.T))) - yb  # d/dη [log(1 + e^η) − yη] = σ(η) − y
        return r @ Xb / len(idx)
    return X, y, grad_batch


@register()
def bayesbinn(p: Problem, recipe) -> list:
    from blrkit.algorithms import bayesbinn as driver
    from blrkit.classical.binary import bayesbinn as classical

    _, _, grad_batch = _classifier(p)
    full = np.arange(p.n)
    T, K, rho, tau = 40, 2, 0.05, 0.5
    lam0 = 0.1 * p.rng().standard_normal(_P)
    uniforms = np.random.default_rng(p.seed).uniform(size=(T, K, _P))  # the driver's draws, in its order
    book = classical(lambda w: p.n * grad_batch(w, full), lam0, lam_prior=0.0, lr=rho, temperature=tau,
                     n_steps=T, uniforms=uniforms)
    name = f"classical.binary.bayesbinn (Meng et al. Alg. 1, rho = {rho}, tau = {tau})"
    try:
        res = driver(grad_batch, lam0, lr=rho, temperature=tau, n_steps=T, n_data=p.n, batch_size=p.n,
                     n_samples=K, rng=p.seed)
    except ValueError as e:  # the hand-written algorithm ran where the driver stopped: the row fails, saying why
        return driver_raised(name, SEQUENCE, e)
    step, lam, draws = recipe.derive().compile(), lam0, np.random.default_rng(p.seed)
    for _ in range(T):
        lam = step(lam, rho, 0.0, tau, lambda w: grad_batch(w, full), p.n, K, draws)
    return [compare("derived step (compiled)", SAME_CODE, False, (res.natural[-1], lam)),
            compare(name, SEQUENCE, True, (res.natural, book))]


@register()
def ste(p: Problem, recipe) -> list:
    from blrkit.algorithms import ste as driver
    from blrkit.classical.binary import ste as classical

    _, _, grad_batch = _classifier(p)
    full = np.arange(p.n)
    latent0, lr, T = 0.05 * p.rng().standard_normal(_P), 0.3, 40
    res = driver(grad_batch, latent0, lr=lr, n_steps=T, n_data=p.n, batch_size=p.n)
    book = classical(lambda w: grad_batch(w, full), latent0, lr=lr, n_steps=T)
    step, lam = recipe.derive().compile(), latent0
    for _ in range(T):
        lam = step(lam, lr, lambda w: grad_batch(w, full))
    return [compare("derived step (compiled)", SAME_CODE, False, (res.natural[-1], lam)),
            compare("classical.binary.ste (BinaryConnect by hand)", SAME_CODE, True, (res.natural, book))]


@register()
def bernoulli_exact(p: Problem, recipe) -> list:
    r"""The exact-gradient Bernoulli BLR (ρ = 0.3 < 1) on the logistic loss of P = 6 binary weights (a sum over the
    N examples, prior λ₀ = 0.2): every iterate against the BLR written by hand with the pairing formula
    (:func:`blrkit.classical.binary.bernoulli_blr`), and the last against the mean-field VI optimum found by
    coordinate ascent on the objective (:func:`blrkit.classical.binary.mean_field_vi`, no BLR)."""
    from blrkit.algorithms import bernoulli_blr as driver
    from blrkit.classical.binary import bernoulli_blr as classical
    from blrkit.classical.binary import mean_field_vi

    X, y, _ = _classifier(p)

    def loss(W):
        return np.sum(np.logaddexp(0.0, -y * (W @ X.T)), axis=-1)
    lam0, prior, T = 0.1 * p.rng().standard_normal(_P), np.full(_P, 0.2), 120
    name = "classical.binary.bernoulli_blr (pairing formula, every iterate)"
    try:
        res = driver(loss, lam0, rho=0.3, n_steps=T, prior=prior)
    except ValueError as e:
        return driver_raised(name, SEQUENCE, e)
    step = recipe.derive().compile()
    lam = lam0
    for _ in range(T):
        lam = step(lam, 0.3, prior, loss)
    optimum = mean_field_vi(loss, prior)
    return [compare("derived step (compiled)", SAME_CODE, False, (res.natural[-1], lam)),
            compare(name, SEQUENCE, True, (res.natural, classical(loss, lam0, prior, rho=0.3, n_steps=T))),
            compare("mean-field VI optimum (coordinate ascent)", ITERATIVE, True, (res.natural[-1], optimum))]
