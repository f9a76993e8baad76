r"""A multilayer perceptron for classification, in NumPy, with its parameters as one flat vector θ.

The network maps an input :math:`x \in \mathbb R^{d_0}` through hidden layers
:math:`a_l = \phi(a_{l-1} W_l + b_l)`, :math:`l = 1..L-1` (φ = tanh or ReLU), to logits
:math:`z = a_{L-1} W_L + b_L \in \mathbb R^K` and class probabilities :math:`\mathrm{softmax}(z)`. The
loss of example i is its cross-entropy :math:`\ell_i(\theta) = \log\sum_k e^{z_{ik}} - z_{i y_i}`:
the negative log-likelihood of a categorical model. In the BLR's terms (Khan & Rue 2023, Sec. 4)
:math:`\bar\ell(\theta) = \sum_i \ell_i(\theta) - \log p_0(\theta)`; everything here is about the
:math:`\ell_i`, the prior is the optimiser's business.

All parameters live in one flat vector θ of length D (for each layer, :math:`W_l` row-major, then
:math:`b_l`), so that any of blrkit's optimisers, which work on vectors, trains the network. Every
function takes θ with leading axes ``(*lead, D)`` (several networks at once: Monte-Carlo samples of
a posterior, a batch of problems) and returns results with the same leading axes.

Gradients are written out by backpropagation (no autograd): with :math:`\delta_L = p - e_{y}`
(softmax minus one-hot) and :math:`\delta_{l-1} = (\delta_l W_l^\top) \odot \phi'(a_{l-1})`, the
gradient of :math:`\ell_i` is :math:`\partial\ell_i/\partial W_l = a_{l-1,i}^\top\delta_{l,i}` and
:math:`\partial\ell_i/\partial b_l = \delta_{l,i}`. :meth:`MLP.per_example_gradients` keeps the
examples apart (an outer product per example, vectorised), :meth:`MLP.gradient` sums them with one
matrix product per layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from blrkit._validation import as_float_array, check_choice, check_count
from blrkit.algorithms._common import check_rng

__all__ = ["MLP"]

_ACTIVATIONS = ("tanh", "relu")


def _activate(z, name):
    return np.tanh(z) if name == "tanh" else np.maximum(z, 0.0)


def derivative_from_output(a, name):
    """φ'(z) written in terms of a = φ(z): 1 − a² for tanh, [a > 0] for ReLU."""
    return 1.0 - a * a if name == "tanh" else (a > 0).astype(a.dtype)


@dataclass(frozen=True)
class MLP:
    r"""A fully connected classifier with layer widths ``sizes = (d_0, d_1, …, K)``.

    Parameters
    ----------
    sizes : tuple of int
        Input dimension, the hidden widths (one or more), the number of classes K ≥ 2.
    activation : {"tanh", "relu"}
        φ of the hidden layers.

    Examples
    --------
    >>> net = MLP((2, 8, 3))
    >>> net.n_params                     # 2·8 + 8 + 8·3 + 3
    51
    >>> theta = net.init(np.random.default_rng(0))
    >>> net.predict_proba(theta, np.zeros((4, 2))).sum(-1)
    array([1., 1., 1., 1.])
    """

    sizes: tuple
    activation: str = "tanh"

    def __post_init__(self):
        sizes = tuple(self.sizes) if isinstance(self.sizes, (tuple, list)) else None
        if sizes is None or len(sizes) < 3:
            raise ValueError(f"sizes must be a tuple (d_0, hidden..., K) with at least one hidden layer, "
                             f"got {self.sizes!r}")
        for k, d in enumerate(sizes):
            check_count(d, f"sizes[{k}]")
        if sizes[-1] < 2:
            raise ValueError(f"sizes[-1] (the number of classes) must be at least 2, got {sizes[-1]}")
        check_choice(self.activation, "activation", _ACTIVATIONS)
        object.__setattr__(self, "sizes", tuple(int(d) for d in sizes))

    @cached_property
    def _slices(self):
        """(offset of W_l, offset of b_l, d_{l-1}, d_l) for each layer."""
        out, off = [], 0
        for p, q in zip(self.sizes[:-1], self.sizes[1:]):
            out.append((off, off + p * q, p, q))
            off += p * q + q
        return tuple(out)

    @property
    def n_params(self) -> int:
        """D, the length of θ."""
        off_b, q = self._slices[-1][1], self.sizes[-1]
        return off_b + q

    @property
    def n_classes(self) -> int:
        """K."""
        return self.sizes[-1]

    def unflatten(self, theta):
        """The layers' ``(W_l, b_l)``, views of θ: ``(*lead, d_{l-1}, d_l)`` and ``(*lead, d_l)``; θ finite."""
        theta = self._theta(theta)
        if not np.isfinite(theta).all():  # the fast path of _theta skips the scan the forward pass does on its output
            raise ValueError("theta must be finite (no NaN or inf)")
        return self._layers(theta)

    def _layers(self, theta):
        lead = theta.shape[:-1]
        return [(theta[..., w:b].reshape(lead + (p, q)), theta[..., b:b + q]) for w, b, p, q in self._slices]

    def init(self, rng, *, batch=()) -> np.ndarray:
        r"""A random θ ``(*batch, D)``: :math:`W_l \sim \mathcal N(0, 1/d_{l-1})` (LeCun's scale), b = 0."""
        rng = check_rng(rng)
        if not isinstance(batch, tuple):
            raise TypeError(f"batch must be a tuple of sizes, got {type(batch).__name__}")
        batch = tuple(check_count(b, f"batch[{k}]", 0) for k, b in enumerate(batch))
        theta = np.zeros(batch + (self.n_params,))
        for w, b, p, q in self._slices:
            theta[..., w:b] = rng.standard_normal(tuple(batch) + (p * q,)) / np.sqrt(p)
        return theta

    # -- forward ---------------------------------------------------------------------------------

    def _forward(self, theta, X):
        """Activations a_0 = X, a_1, …, a_{L-1} and the logits z, each ``(*lead, n, ·)``."""
        acts = [X]
        layers = self._layers(theta)
        for W, b in layers[:-1]:
            acts.append(_activate(acts[-1] @ W + b[..., None, :], self.activation))
        W, b = layers[-1]
        return acts, acts[-1] @ W + b[..., None, :]

    def logits(self, theta, X) -> np.ndarray:
        """z ``(*lead, n, K)`` for inputs X ``(n, d_0)``."""
        theta, X = self._theta(theta), self._inputs(X)
        return self._finite(self._forward(theta, X)[1], theta, X, "logits")

    def predict_proba(self, theta, X) -> np.ndarray:
        """softmax(z), ``(*lead, n, K)``."""
        return softmax_probabilities(self.logits(theta, X))

    def loss(self, theta, X, y) -> np.ndarray:
        r"""The mean cross-entropy :math:`\frac1n\sum_i \ell_i(\theta)`, ``(*lead,)``."""
        theta = self._theta(theta)
        X, y = self._data(X, y)
        z = self._forward(theta, X)[1]
        return self._finite((_logsumexp(z) - z[..., np.arange(len(y)), y]).mean(-1), theta, X, "loss")

    # -- gradients ---------------------------------------------------------------------------------

    def _deltas(self, theta, X, y):
        """Activations and the back-propagated δ_l of every layer, per example, ``(*lead, n, d_l)``."""
        acts, z = self._forward(theta, X)
        delta = softmax_probabilities(z)
        delta[..., np.arange(len(y)), y] -= 1.0         # δ_L = p − e_y
        deltas = [delta]
        for (W, _), a in zip(self._layers(theta)[:0:-1], acts[:0:-1]):
            # δ_{l-1} = (δ_l W_lᵀ) ⊙ φ'(a_{l-1})
            delta = (delta @ np.swapaxes(W, -1, -2)) * derivative_from_output(a, self.activation)
            deltas.append(delta)
        return acts, deltas[::-1]

    def gradient(self, theta, X, y) -> np.ndarray:
        r""":math:`\frac1n\sum_i \nabla\ell_i(\theta)`, ``(*lead, D)``: one matrix product per layer."""
        theta = self._theta(theta)
        X, y = self._data(X, y)
        acts, deltas = self._deltas(theta, X, y)
        out = np.empty(theta.shape)
        n = len(y)
        for (w, b, p, q), a, d in zip(self._slices, acts, deltas):
            # ∂/∂W_l = Σ_i a_{l-1,i}ᵀ δ_{l,i},  ∂/∂b_l = Σ_i δ_{l,i}
            out[..., w:b] = (np.swapaxes(a, -1, -2) @ d).reshape(theta.shape[:-1] + (p * q,)) / n
            out[..., b:b + q] = d.sum(-2) / n
        return self._finite(out, theta, X, "gradient")

    def gradient_square_sums(self, theta, X, y):
        r""":math:`\sum_i \nabla\ell_i(\theta)` and :math:`\sum_i \nabla\ell_i(\theta)^2` (elementwise square), each
        ``(*lead, D)``, without forming the per-example gradients.

        For a dense layer :math:`\sum_i (a_{l-1,i} \otimes \delta_{l,i})^2 = (a_{l-1}^2)^\top(\delta_l^2)`: one
        matrix product, like the gradient itself. This is the Gauss–Newton curvature of OGN and VOGN
        (Khan & Rue 2023, Sec. 4.4) at the cost of a second backward product.
        """
        theta = self._theta(theta)
        X, y = self._data(X, y)
        acts, deltas = self._deltas(theta, X, y)
        g, g2 = np.empty(theta.shape), np.empty(theta.shape)
        for (w, b, p, q), a, d in zip(self._slices, acts, deltas):
            at = np.swapaxes(a, -1, -2)
            g[..., w:b] = (at @ d).reshape(theta.shape[:-1] + (p * q,))
            # Σ_i (a_{l-1,i} ⊗ δ_{l,i})² = (a²)ᵀ δ²
            g2[..., w:b] = ((at * at) @ (d * d)).reshape(theta.shape[:-1] + (p * q,))
            g[..., b:b + q] = d.sum(-2)
            g2[..., b:b + q] = (d * d).sum(-2)
        return self._finite(g, theta, X, "gradient"), self._finite(g2, theta, X, "sum of squared gradients")

    def per_example_gradients(self, theta, X, y) -> np.ndarray:
        r""":math:`\nabla\ell_i(\theta)` for each example, stacked on axis −2: ``(*lead, n, D)``."""
        theta = self._theta(theta)
        X, y = self._data(X, y)
        acts, deltas = self._deltas(theta, X, y)
        lead = deltas[-1].shape[:-2]
        n = len(y)
        out = np.empty(lead + (n, self.n_params))
        for (w, b, p, q), a, d in zip(self._slices, acts, deltas):
            # ∂ℓ_i/∂W_l = a_{l-1,i} ⊗ δ_{l,i} (outer product per example), written straight into θ's layout
            np.multiply(a[..., :, None], d[..., None, :], out=out[..., w:b].reshape(lead + (n, p, q)))
            out[..., b:b + q] = d
        return self._finite(out, theta, X, "per-example gradients")

    # -- checks ------------------------------------------------------------------------------------

    def _theta(self, theta):
        if isinstance(theta, np.ndarray) and theta.dtype == float and theta.ndim >= 1 \
                and theta.shape[-1] == self.n_params:
            return theta                                # the fast path of a training loop
        t = as_float_array(theta, "theta", min_ndim=1)
        if t.shape[-1] != self.n_params:
            raise ValueError(f"theta must have D = {self.n_params} parameters on its last axis for sizes "
                             f"{self.sizes}, got shape {t.shape}")
        return t

    @staticmethod
    def _finite(out, theta, X, what):
        """``out`` if finite, else ``ValueError`` naming the input that is not (θ or X, whose fast paths skip
        their own scan) or the overflow: one pass over the output, none over the inputs unless it fails."""
        if np.isfinite(out).all():
            return out
        for a, name in ((theta, "theta"), (X, "X")):
            if not np.isfinite(a).all():
                raise ValueError(f"{name} must be finite (no NaN or inf)")
        raise ValueError(f"the {what} overflowed (largest |theta| = {np.max(np.abs(theta)):.3g}, |X| = "
                         f"{np.max(np.abs(X)):.3g}): rescale the inputs or the parameters")

    def _inputs(self, X):
        if not (isinstance(X, np.ndarray) and X.dtype == float):
            X = as_float_array(X, "X")
        if X.ndim != 2 or X.shape[1] != self.sizes[0] or X.shape[0] == 0:
            raise ValueError(f"X must have shape (n, {self.sizes[0]}) with n >= 1 examples, got {X.shape}")
        return X

    def _data(self, X, y):
        X = self._inputs(X)
        y = np.asarray(y)
        if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must be integer class labels of shape ({X.shape[0]},), got dtype {y.dtype} "
                             f"and shape {y.shape}")
        if y.size and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"y must hold labels in 0..{self.n_classes - 1}, got values in {y.min()}..{y.max()}")
        return X, y


def _logsumexp(z):
    zmax = z.max(-1, keepdims=True)
    return np.log(np.exp(z - zmax).sum(-1)) + zmax[..., 0]


def softmax_probabilities(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)
