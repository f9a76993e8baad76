"""Textbook minibatch SGD, one problem at a time: the oracle for
:func:`blrkit.algorithms.stochastic_gradient_descent`."""

from __future__ import annotations

import numpy as np


def sgd(grad_batch, x0, rho, n_steps, n_data, batch_size, rng):
    """Iterate x ← x − ρ (N/M) Σ_{i∈B} ∇ℓ_i(x) over minibatches B of M indices out of N.

    Each B is ``sorted(rng.choice(n_data, batch_size, replace=False))``; ``grad_batch(x, B)``
    returns the sum of the per-example gradients. Returns every iterate, ``(n_steps + 1, D)``.

    >>> y = np.array([1.0, 3.0])
    >>> sgd(lambda x, b: np.sum(x - y[b], keepdims=True), [0.0], 0.5, 1, 2, 2, np.random.default_rng(0))
    array([[0.],
           [2.]])
    """
    x = np.array(x0, dtype=float)
    path = [x.copy()]
    step_size = rho * n_data / batch_size
    for _ in range(n_steps):
        batch = np.sort(rng.choice(n_data, batch_size, replace=False))
        x = x - step_size * np.asarray(grad_batch(x, batch))
        path.append(x.copy())
    return np.array(path)
