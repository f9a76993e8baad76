r"""Adam as its textbook (Kingma & Ba 2015) and PyTorch's ``torch.optim.Adam`` define it.

.. math::

    m \leftarrow \beta_1 m + (1 - \beta_1) g,\quad v \leftarrow \beta_2 v + (1 - \beta_2) g^2,\quad
    \theta \leftarrow \theta - \mathrm{lr}\,\frac{m/(1 - \beta_1^t)}{\sqrt{v/(1 - \beta_2^t)} + \epsilon},

:math:`t = 1, 2, \dots`, :math:`m_0 = v_0 = 0`, no weight decay or AMSGrad. The oracle of the BLR's
Adam recipe (Khan & Rue 2023, Sec. 4.2), written without the derive layer.
"""

from __future__ import annotations

import numpy as np


def adam(grad, theta0, *, lr=0.001, betas=(0.9, 0.999), eps=1e-8, n_steps: int):
    """Every iterate, ``(n_steps + 1, D)``.

    >>> adam(lambda th: np.ones_like(th), np.array([0.0]), lr=0.1, n_steps=1).round(8)  # first step: −lr
    array([[ 0. ],
           [-0.1]])
    """
    b1, b2 = betas
    theta = np.array(theta0, dtype=float)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    path = [theta.copy()]
    for t in range(1, n_steps + 1):
        g = np.asarray(grad(theta), dtype=float)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        path.append(theta.copy())
    return np.array(path)
