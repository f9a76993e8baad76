r"""Dropout SGD by hand: DropConnect and inverted dropout on the weights (Wan et al. 2013; Srivastava et al. 2014).

Each step draws a minibatch ``np.sort(rng.choice(N, M, replace=False))``, then one mask per weight
``rng.uniform(size=D) < p``; DropConnect takes the gradient at the masked weights and moves only the kept
ones, :math:`w \leftarrow w - \eta\, z\odot\nabla\ell_{\mathcal B}(z\odot w)`; inverted dropout scales the kept
weights by 1/p in the forward pass, :math:`\tilde w \leftarrow \tilde w - \eta\, (z/p)\odot\nabla\ell_{\mathcal B}(z\odot\tilde w/p)`.
With a slab of finite variance σ², the kept weights also carry Gaussian noise:
:math:`w \leftarrow w - \eta\, z\odot\nabla\ell_{\mathcal B}(z\odot(w + \sigma\varepsilon))` (:func:`noisy_dropconnect`).
Written without the derive layer.
"""

from __future__ import annotations

import numpy as np


def dropconnect(grad_batch, w0, lr, keep_prob, n_steps, n_data, batch_size, rng):
    """Every iterate ``(n_steps + 1, D)``; ``grad_batch(θ, idx)`` is the minibatch's summed gradient."""
    return _masked_sgd(grad_batch, w0, lr, keep_prob, n_steps, n_data, batch_size, rng, scale=1.0)


def inverted_dropout(grad_batch, w0, lr, keep_prob, n_steps, n_data, batch_size, rng):
    """Every iterate of the stored weights w̃ ``(n_steps + 1, D)`` (the network uses z ⊙ w̃ / p)."""
    return _masked_sgd(grad_batch, w0, lr, keep_prob, n_steps, n_data, batch_size, rng, scale=1.0 / keep_prob)


def _masked_sgd(grad_batch, w0, lr, keep_prob, n_steps, n_data, batch_size, rng, scale):
    """SGD through the forward pass at ``c z ⊙ w`` (c = ``scale``): w ← w − lr (c z) ⊙ ∇ℓ_B(c z ⊙ w)."""
    w = np.array(w0, dtype=float)
    path = [w.copy()]
    for _ in range(n_steps):
        idx = np.sort(rng.choice(n_data, batch_size, replace=False))
        cz = scale * (rng.uniform(size=w.shape[-1]) < keep_prob)
        w = w - lr * cz * grad_batch(cz * w, idx)
        path.append(w.copy())
    return np.array(path)


def noisy_dropconnect(grad_batch, w0, lr, keep_prob, slab_sd, n_steps, n_data, batch_size, rng):
    """DropConnect with Gaussian noise on the kept weights: per step a minibatch, a mask ``rng.uniform(size=D) < p``,
    then ``ε = rng.standard_normal(D)``, and w ← w − lr z ⊙ ∇ℓ_B(z ⊙ (w + σε)); every iterate ``(n_steps + 1, D)``."""
    w = np.array(w0, dtype=float)
    path = [w.copy()]
    for _ in range(n_steps):
        idx = np.sort(rng.choice(n_data, batch_size, replace=False))
        z = (rng.uniform(size=w.shape[-1]) < keep_prob).astype(float)
        eps = rng.standard_normal(w.shape[-1])
        w = w - lr * z * grad_batch(z * (w + slab_sd * eps), idx)
        path.append(w.copy())
    return np.array(path)
