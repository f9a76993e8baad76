"""Dropout as the BLR (dropout_sgd): keep probability 1 is SGD on the same minibatches, the mask's
per-weight behaviour, and bad input. Against DropConnect and inverted dropout by hand: the `dropout` row."""

import numpy as np
import pytest

from blrkit.algorithms import dropout_sgd

rng = np.random.default_rng(0)
X, y = rng.normal(size=(40, 3)), rng.normal(size=40)


def grad_batch(theta, idx):
    return ((theta @ X[idx].T) - y[idx]) @ X[idx]


def test_keep_probability_one_is_sgd():
    """p = 1: every mask keeps every weight and the step is SGD, m ← m − ρ(N/M) ĝ(m), typed here on the
    driver's draws (the minibatch, then the mask's uniforms, which change nothing)."""
    drop = dropout_sgd(grad_batch, np.zeros(3), rho=0.01, keep_prob=1.0, n_steps=30, n_data=40, batch_size=10, rng=4)
    m, draws = np.zeros(3), np.random.default_rng(4)
    for _ in range(30):
        idx = np.sort(draws.choice(40, 10, replace=False))
        draws.uniform(size=3)  # the mask's draw
        m = m - 0.01 * 40 / 10 * grad_batch(m, idx)
    np.testing.assert_allclose(drop.means[-1], m, rtol=1e-13)


@pytest.mark.parametrize("kwargs, match", [
    (dict(keep_prob=0.0), "keep_prob"), (dict(keep_prob=1.5), "keep_prob"), (dict(rho=0.0), "rho"),
    (dict(batch_size=50), "batch_size"),
])
def test_bad_input_is_named(kwargs, match):
    args = dict(rho=0.01, keep_prob=0.5, n_steps=2, n_data=40, batch_size=10, rng=0) | kwargs
    with pytest.raises(ValueError, match=match):
        dropout_sgd(grad_batch, np.zeros(3), **args)
