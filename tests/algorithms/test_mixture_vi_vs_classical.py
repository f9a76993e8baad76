"""The driver ``mixture_vi`` against the hand-written mixture-VI oracles of blrkit.classical.mixture_vi: the
Monte-Carlo loop on the same draws (D = 2, a banana, where ∇²ℓ̄ is indefinite off the ridge), and the exact
(quadrature) fixed point in 1-D.  Tolerances in tests/algorithms/tolerances.py."""

import numpy as np

from algorithms.tolerances import CLOSED_FORM, assert_close
from blrkit.algorithms import mixture_vi
from blrkit.classical.mixture_vi import kl_to_target, mixture_log_density, mixture_vi_monte_carlo

A, B = 1.5, 0.6


def banana(th):
    x, y = th[..., 0], th[..., 1]
    return x**2 / (2 * A**2) + 2 * (y - B * x**2 + 1) ** 2


def banana_grad(th):
    x, y = th[..., 0], th[..., 1]
    r = y - B * x**2 + 1
    return np.stack([x / A**2 - 8 * B * x * r, 4 * r], -1)


def banana_hess(th):
    x, y = th[..., 0], th[..., 1]
    r = y - B * x**2 + 1
    hxx, hxy = 1 / A**2 - 8 * B * r + 16 * B**2 * x**2, -8 * B * x
    return np.stack([np.stack([hxx, hxy], -1), np.stack([hxy, 4 + 0 * x], -1)], -2)


def test_the_driver_is_the_hand_written_monte_carlo_loop_on_the_same_draws():
    """K = 3, D = 2, 7 draws per component, 25 steps, ρ = 0.3, ρ_π = 0.1: the driver draws ε (n_samples, K, D) per
    step from the seeded generator; the oracle is given those draws.  Every iterate agrees (CLOSED_FORM: the
    improved step is written as ½[S + BS⁻¹B] in one and S + ρG + ρ²/2 GS⁻¹G in the other)."""
    m0 = np.array([[-2.0, 1.0], [0.0, -0.5], [2.0, 1.0]])
    S0 = np.broadcast_to(2.0 * np.eye(2), (3, 2, 2))
    w0 = np.array([0.2, 0.5, 0.3])
    res = mixture_vi(banana, banana_grad, banana_hess, m0, rho=0.3, n_steps=25, precisions0=S0, n_samples=7, rng=3,
                     rho_weights=0.1, weights0=w0)
    gen = np.random.default_rng(3)
    eps = np.array([gen.standard_normal((7, 3, 2)).transpose(1, 0, 2) for _ in range(25)])
    ms, Ss, ws = mixture_vi_monte_carlo(banana, banana_grad, banana_hess, m0, S0, w0, eps, rho=0.3, rho_weights=0.1)
    assert_close(res.mean_path, ms, CLOSED_FORM)
    assert_close(res.precision_path, Ss, CLOSED_FORM)
    assert_close(res.weight_path, ws, CLOSED_FORM)


def test_the_driver_reaches_the_exact_bimodal_fit():
    """1-D target 0.3 N(−2, 0.5²) + 0.7 N(2, 1) from (−3, 3): the driver's Monte-Carlo iterates end at the target,
    the exact fixed point of the quadrature oracle (the estimates vanish there: 1e-8), with KL(q ‖ p) ≈ 0 by
    quadrature."""
    PI, MU, VAR = np.array([0.3, 0.7]), np.array([-2.0, 2.0]), np.array([0.25, 1.0])
    terms = lambda th: mixture_log_density(th[..., 0], MU, 1 / VAR, np.log(PI))
    res = mixture_vi(lambda th: -terms(th)[0], lambda th: -terms(th)[1][..., None],
                     lambda th: -terms(th)[2][..., None, None], [[-3.0], [3.0]], rho=0.2, n_steps=300,
                     precisions0=np.eye(1), n_samples=10, rng=0, rho_weights=0.1)
    np.testing.assert_allclose(res.weights, PI, atol=1e-8)
    np.testing.assert_allclose(res.means[:, 0], MU, atol=1e-8)
    np.testing.assert_allclose(1 / res.precisions[:, 0, 0], VAR, atol=1e-8)
    assert abs(kl_to_target(lambda t: terms(t[..., None])[0], res.means[:, 0], res.precisions[:, 0, 0],
                            res.weights)) < 1e-10
