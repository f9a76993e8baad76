r"""RMSprop as its textbook (and PyTorch's ``torch.optim.RMSprop``) defines it, one problem at a time.

.. math::

    v \leftarrow \alpha v + (1 - \alpha) g^2, \qquad \theta \leftarrow \theta - \mathrm{lr}\,\frac{g}{\sqrt v + \epsilon},

with :math:`v_0 = 0` and no momentum, centring or weight decay (Tieleman & Hinton 2012). The oracle
of the BLR's RMSprop recipe (Khan & Rue 2023, Sec. 4.2), written without the derive layer.
"""

from __future__ import annotations

import numpy as np


def rmsprop(grad, theta0, *, lr=0.01, alpha=0.99, eps=1e-8, n_steps: int):
    """Every iterate, ``(n_steps + 1, D)``.

    >>> rmsprop(lambda th: 2 * th, np.array([1.0]), lr=0.1, n_steps=1)   # g = 2: v = 0.04, step 0.1·2/0.2
    array([[1.],
           [0.]])
    """
    theta = np.array(theta0, dtype=float)
    v = np.zeros_like(theta)
    path = [theta.copy()]
    for _ in range(n_steps):
        g = np.asarray(grad(theta), dtype=float)
        v = alpha * v + (1 - alpha) * g * g
        theta = theta - lr * g / (np.sqrt(v) + eps)
        path.append(theta.copy())
    return np.array(path)
