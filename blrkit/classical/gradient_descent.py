"""Textbook gradient descent, one problem at a time: the oracle for :func:`blrkit.algorithms.gradient_descent`."""

from __future__ import annotations

import numpy as np


def gradient_descent(grad, x0, step_size, n_steps):
    """Iterate x ← x − step_size · grad(x); return every iterate, shape ``(n_steps + 1, D)``.

    >>> gradient_descent(lambda x: 2 * x, np.array([1.0]), 0.25, 2)
    array([[1.  ],
           [0.5 ],
           [0.25]])
    """
    x = np.array(x0, dtype=float)
    path = [x.copy()]
    for _ in range(n_steps):
        x = x - step_size * np.asarray(grad(x))
        path.append(x.copy())
    return np.array(path)
