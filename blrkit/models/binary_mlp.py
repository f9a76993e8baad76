r"""A classifier with binary weights :math:`w \in \{-1, +1\}^P` and real biases: the network of BayesBiNN and STE.

Layer l computes :math:`a_l = \phi(a_{l-1}\,c_l W_l + b_l)` (the last one the logits, no φ) with binary
weight matrices :math:`W_l`, real biases :math:`b_l` and a fixed scale :math:`c_l` per layer, by default :math:`1/\sqrt{d_{l-1}}`
(without it a sum of :math:`d_{l-1}` terms of size one would saturate every unit; binary networks put such
a scale, or batch normalisation, after each layer). The class probabilities are the softmax of the logits
and the loss of example i is its cross-entropy :math:`\ell_i(w, b)`, as in :mod:`blrkit.models.mlp`.

The weights are the random variables of the posterior: the mean-field Bernoulli
:math:`q(w) = \prod_j \tfrac12(1 + \mu_j w_j)` of BayesBiNN (Khan & Rue 2023, Sec. 4.5), whose training
evaluates the network at *relaxed* weights in (−1, 1) and whose predictive averages it over samples
:math:`w \sim q`. Every function therefore takes any real w, with leading axes ``(*lead, P)`` (samples, a
batch of networks), and b ``(*lead_b, B)`` broadcast against them (one set of biases for every sample).

The network is the :class:`~blrkit.models.mlp.MLP` of the same sizes at
:math:`\theta = (c_1 W_1, b_1, c_2 W_2, b_2, \dots)` (:meth:`BinaryMLP.theta`): its forward pass and
backpropagation are the MLP's, and the chain rule gives :math:`\partial\ell/\partial W_l = c_l\,
\partial\ell/\partial(c_l W_l)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from blrkit._validation import as_float_array
from blrkit.models.mlp import MLP

__all__ = ["BinaryMLP"]


@dataclass(frozen=True)
class BinaryMLP:
    r"""A fully connected classifier with binary weights ``w`` (P of them) and real biases ``b`` (B of them).

    Parameters
    ----------
    sizes : tuple of int
        Input dimension, the hidden widths (one or more), the number of classes K ≥ 2.
    activation : {"tanh", "relu"}
        φ of the hidden layers.
    scales : tuple of float, optional
        The fixed :math:`c_l > 0` of each layer; default :math:`1/\sqrt{d_{l-1}}` (the logits then have a spread
        of order one at random weights; a larger last :math:`c_L` lets the network be more confident).

    Examples
    --------
    >>> bnet = BinaryMLP((64, 32, 10))
    >>> bnet.n_weights, bnet.n_biases            # 64·32 + 32·10, 32 + 10
    (2368, 42)
    >>> w = np.where(np.random.default_rng(0).uniform(size=bnet.n_weights) < 0.5, -1.0, 1.0)
    >>> bnet.predict_proba(w, np.zeros(bnet.n_biases), np.zeros((3, 64))).sum(-1)
    array([1., 1., 1.])
    """

    sizes: tuple
    activation: str = "tanh"
    scales: tuple | None = None

    def __post_init__(self):
        net = MLP(self.sizes, self.activation)      # checks sizes and activation
        object.__setattr__(self, "sizes", net.sizes)
        if self.scales is None:
            scales = tuple(1 / np.sqrt(d) for d in net.sizes[:-1])
        else:
            scales = as_float_array(self.scales, "scales", min_ndim=1)
            if scales.ndim != 1 or len(scales) != len(net.sizes) - 1 or not all(c > 0 for c in scales):
                raise ValueError(f"scales must hold one positive number per layer ({len(net.sizes) - 1}), "
                                 f"got {self.scales!r}")
            scales = tuple(float(c) for c in scales)
        object.__setattr__(self, "scales", scales)

    @cached_property
    def net(self) -> MLP:
        """The real-valued :class:`~blrkit.models.mlp.MLP` that computes this network at :meth:`theta`."""
        return MLP(self.sizes, self.activation)

    @cached_property
    def _layout(self):
        """Positions in θ of the weights and of the biases, and the scale c_l of each weight."""
        w_at, b_at, scale = [], [], []
        for (w, b, p, q), c in zip(self.net._slices, self.scales):
            w_at.append(np.arange(w, b))
            b_at.append(np.arange(b, b + q))
            scale.append(np.full(p * q, c))
        return np.concatenate(w_at), np.concatenate(b_at), np.concatenate(scale)

    @property
    def n_weights(self) -> int:
        """P, the number of binary weights (every entry of every W_l)."""
        return self._layout[0].size

    @property
    def n_biases(self) -> int:
        """B, the number of real biases."""
        return self._layout[1].size

    @property
    def n_classes(self) -> int:
        """K."""
        return self.sizes[-1]

    def theta(self, w, b) -> np.ndarray:
        r"""The MLP's parameters :math:`\theta = (c_1 W_1, b_1, \dots)` ``(*lead, D)`` for weights ``(*lead_w, P)``
        and biases ``(*lead_b, B)`` (leading axes broadcast)."""
        w, b = self._weights(w), self._biases(b)
        w_at, b_at, scale = self._layout
        lead = np.broadcast_shapes(w.shape[:-1], b.shape[:-1])
        out = np.empty(lead + (self.net.n_params,))
        out[..., w_at] = w * scale
        out[..., b_at] = b
        if not np.isfinite(out).all():  # w's and b's fast paths skip the scan: one pass over θ names them
            for a, name in ((w, "w"), (b, "b")):
                if not np.isfinite(a).all():
                    raise ValueError(f"{name} must be finite (no NaN or inf)")
        return out

    def logits(self, w, b, X) -> np.ndarray:
        """z ``(*lead, n, K)`` for inputs X ``(n, d_0)``."""
        return self.net.logits(self.theta(w, b), X)

    def predict_proba(self, w, b, X) -> np.ndarray:
        """softmax(z), ``(*lead, n, K)``."""
        return self.net.predict_proba(self.theta(w, b), X)

    def loss(self, w, b, X, y) -> np.ndarray:
        r"""The mean cross-entropy :math:`\frac1n\sum_i \ell_i(w, b)`, ``(*lead,)``."""
        return self.net.loss(self.theta(w, b), X, y)

    def gradients(self, w, b, X, y) -> tuple[np.ndarray, np.ndarray]:
        r"""The mean gradients :math:`\frac1n\sum_i\nabla_w\ell_i` ``(*lead, P)`` and
        :math:`\frac1n\sum_i\nabla_b\ell_i` ``(*lead, B)`` at real weights w (binary or relaxed).

        .. math::

            \frac{\partial\ell}{\partial W_l} = c_l\,\frac{\partial\ell}{\partial\theta_{W_l}}, \qquad
            \frac{\partial\ell}{\partial b_l} = \frac{\partial\ell}{\partial\theta_{b_l}}
        """
        w_at, b_at, scale = self._layout
        g = self.net.gradient(self.theta(w, b), X, y)
        return g[..., w_at] * scale, g[..., b_at]

    def _weights(self, w):
        return self._last_axis(w, "w", self.n_weights, "weights", "P")

    def _biases(self, b):
        return self._last_axis(b, "b", self.n_biases, "biases", "B")

    def _last_axis(self, x, name, n, what, symbol):
        """``x`` as a float array with ``n`` entries on its last axis (copied only if it is not one already)."""
        if not (isinstance(x, np.ndarray) and x.dtype == float):
            x = as_float_array(x, name, min_ndim=1)
        if x.ndim < 1 or x.shape[-1] != n:
            raise ValueError(f"{name} must have {symbol} = {n} {what} on its last axis for sizes {self.sizes}, "
                             f"got shape {x.shape}")
        return x
