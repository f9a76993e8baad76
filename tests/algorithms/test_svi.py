"""SVI for a Gaussian mean (svi_gaussian_mean): Robbins–Monro convergence to the exact posterior, the
minibatch schedule, and bad input. Its iterates against Hoffman et al.'s update and the one-epoch exact
posterior are the `svi` row of `blrkit table`."""

import numpy as np
import pytest

from blrkit.algorithms import svi_gaussian_mean

PRIOR = dict(prior_mean=0.0, prior_precision=1.0, noise_variance=2.0)


def test_converges_to_the_exact_posterior():
    """κ = 0.7: the precision is exact after any step (its statistic does not depend on the minibatch); the
    mean's average over the last 1,000 steps is within 5 standard errors of the closed form."""
    y = np.random.default_rng(3).normal(1.0, np.sqrt(2.0), size=200)
    m, S = svi_gaussian_mean(y, batch_size=20, n_steps=3000, rng=1, **PRIOR)
    S_exact = 1.0 + 200 / 2.0
    m_exact = y.sum() / 2.0 / S_exact
    np.testing.assert_allclose(S[-1], S_exact, rtol=1e-12)
    tail = m[-1000:]
    se = tail.std() / np.sqrt(1000 / 50)  # ≈ 50-step correlation at ρ_t ≈ (1 + t)^-0.7 near t = 2,500
    assert abs(tail.mean() - m_exact) < 5 * se + 1e-12


def test_full_batch_unit_step_is_exact():
    y = np.random.default_rng(0).normal(size=(3, 10))
    m, S = svi_gaussian_mean(y, batch_size=10, n_steps=1, learning_offset=0.0, learning_decay=1.0, **PRIOR)
    np.testing.assert_allclose(S[1], 1.0 + 10 / 2.0)
    np.testing.assert_allclose(m[1], y.sum(-1) / 2.0 / 6.0, rtol=1e-13)


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=11), "batch_size"), (dict(learning_decay=0.4), "learning_decay"),
    (dict(noise_variance=0.0), "noise_variance"), (dict(prior_precision=-1.0), "prior_precision"),
])
def test_bad_input_is_named(kwargs, match):
    args = dict(batch_size=2, n_steps=3, **PRIOR) | kwargs
    with pytest.raises(ValueError, match=match):
        svi_gaussian_mean(np.zeros(10), **args)
