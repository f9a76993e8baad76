r"""A network and its training data as the callables blrkit's optimisers take.

The Bayesian objective of a classifier with a Gaussian prior :math:`p_0 = \mathcal N(0, \alpha^{-1}I)`
is :math:`\bar\ell(\theta) = \sum_{i=1}^N \ell_i(\theta) + \tfrac\alpha2\|\theta\|^2` (Khan & Rue 2023,
Sec. 1.1). The optimisers want it in different pieces, and :class:`Objective` hands out each:

* ``grad_terms(θ, idx)``: the per-example gradients of :math:`\ell_i + \frac{\alpha}{2N}\|\theta\|^2`,
  ``(*lead, M, D)``, for OGN and VOGN (the prior shared out over the N terms);
* ``grad_sums(θ, idx)``: their sum and sum of squares, ``(*lead, D)`` each, OGN's and VOGN's faster oracle;
* ``grad_sum(θ, idx)``: their sum over ``idx``, ``(*lead, D)``, for SGD (its ``grad_terms``);
* ``grad_batch(θ, idx)``: the mean over ``idx`` of :math:`\nabla\ell_i`, data term only, for IVON
  (which adds the weight decay δ = α/N itself);
* ``minibatch_grad(M, rng)``: a closure ``grad(θ)`` that draws a fresh minibatch per call and returns
  the mean gradient of :math:`\bar\ell/N` on it, for RMSprop and Adam (called once per step).

All are per-example means or sums of the network's :meth:`~blrkit.models.mlp.MLP.gradient`, so the
same prior α gives the same :math:`\bar\ell` to every optimiser, each in its own scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blrkit._validation import check_finite_result, check_scalar
from blrkit.algorithms._common import check_rng
from blrkit.models.mlp import MLP

__all__ = ["Objective"]


@dataclass(frozen=True, eq=False)
class Objective:
    r"""The objective :math:`\bar\ell(\theta) = \sum_i \ell_i(\theta) + \frac\alpha2\|\theta\|^2` of ``net``
    on ``(X, y)``.

    Parameters
    ----------
    net : MLP
    X : array_like, shape (N, d_0)
    y : array_like of int, shape (N,)
    prior_precision : float, default 0
        α ≥ 0.

    Examples
    --------
    >>> from blrkit.models import MLP, Objective
    >>> rng = np.random.default_rng(0)
    >>> obj = Objective(MLP((2, 4, 2)), rng.normal(size=(6, 2)), np.array([0, 1, 0, 1, 1, 0]), prior_precision=1.0)
    >>> theta, idx = obj.net.init(rng), np.array([1, 4])
    >>> np.allclose(obj.grad_terms(theta, idx).sum(-2), obj.grad_sum(theta, idx))
    True
    """

    net: MLP
    X: np.ndarray
    y: np.ndarray
    prior_precision: float = 0.0

    def __post_init__(self):
        if not isinstance(self.net, MLP):
            raise TypeError(f"net must be an MLP, got {type(self.net).__name__}")
        X, y = self.net._data(self.X, self.y)
        a = check_scalar(self.prior_precision, "prior_precision", low=0.0, closed_low=True)
        # own copies, read-only: the caller's arrays are never touched
        X, y = np.array(X), np.array(y)
        X.flags.writeable = y.flags.writeable = False
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "prior_precision", a)

    @property
    def n_data(self) -> int:
        """N."""
        return len(self.y)

    def value(self, theta) -> np.ndarray:
        r""":math:`\bar\ell(\theta)/N`: the mean cross-entropy plus :math:`\frac{\alpha}{2N}\|\theta\|^2`, ``(*lead,)``."""
        theta = self.net._theta(theta)
        return self._finite(self.net.loss(theta, self.X, self.y)
                            + 0.5 * self.prior_precision / self.n_data * (theta**2).sum(-1), theta, "value")

    def grad_terms(self, theta, idx) -> np.ndarray:
        """Per-example gradients of ℓ_i + α‖θ‖²/(2N) for i in ``idx``, stacked on axis −2."""
        theta = self.net._theta(theta)
        idx = self._idx(idx)
        g = self.net.per_example_gradients(theta, self.X[idx], self.y[idx])
        if self.prior_precision:
            g += (self.prior_precision / self.n_data) * theta[..., None, :]  # in place: g is (*lead, M, D)
        return self._finite(g, theta, "per-example gradients")

    def grad_sums(self, theta, idx) -> tuple[np.ndarray, np.ndarray]:
        r"""(Σ_{i∈idx} g_i, Σ_{i∈idx} g_i²) for g_i = ∇ℓ_i + αθ/N, each ``(*lead, D)``, without per-example
        gradients (:meth:`~blrkit.models.mlp.MLP.gradient_square_sums`; the prior share c = αθ/N enters as
        :math:`\sum_i (g_i + c)^2 = \sum_i g_i^2 + 2c\sum_i g_i + Mc^2`): OGN's and VOGN's ``grad_sums``."""
        theta = self.net._theta(theta)
        idx = self._idx(idx)
        g, g2 = self.net.gradient_square_sums(theta, self.X[idx], self.y[idx])
        if self.prior_precision:
            c = (self.prior_precision / self.n_data) * theta
            g2 = g2 + 2 * c * g + len(idx) * c * c
            g = g + len(idx) * c
        return self._finite(g, theta, "gradient sum"), self._finite(g2, theta, "sum of squared gradients")

    def grad_sum(self, theta, idx) -> np.ndarray:
        """Σ_{i∈idx} of ∇ℓ_i + αθ/N: SGD's ``grad_terms``."""
        theta = self.net._theta(theta)
        idx = self._idx(idx)
        return self._finite(len(idx) * (self.net.gradient(theta, self.X[idx], self.y[idx])
                                        + (self.prior_precision / self.n_data) * theta), theta, "gradient sum")

    def _finite(self, out, theta, what):
        """``out``, or ``ValueError`` naming the overflow of the prior's term αθ/N (θ finite: the network checked
        it) with the scales of θ and α."""
        return check_finite_result(out, f"the objective's {what}", theta=theta,
                                   prior_precision=self.prior_precision)

    def grad_batch(self, theta, idx) -> np.ndarray:
        """The mean over ``idx`` of ∇ℓ_i, the data term only (IVON's ``grad_batch``)."""
        idx = self._idx(idx)
        return self.net.gradient(theta, self.X[idx], self.y[idx])

    def minibatch_grad(self, batch_size: int, rng):
        r"""A closure ``grad(θ)``: each call draws ``np.sort(rng.choice(N, batch_size, replace=False))``
        and returns the minibatch mean of :math:`\nabla\ell_i + \frac\alpha N\theta` (the gradient of
        :math:`\bar\ell/N`, as PyTorch's optimisers see a mean loss with weight decay α/N)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or not 1 <= batch_size <= self.n_data:
            raise ValueError(f"batch_size must be an integer in 1..{self.n_data}, got {batch_size!r}")
        rng = check_rng(rng)
        n, wd = self.n_data, self.prior_precision / self.n_data

        def grad(theta):
            idx = np.sort(rng.choice(n, batch_size, replace=False))
            return self.net.gradient(theta, self.X[idx], self.y[idx]) + wd * theta

        return grad

    def _idx(self, idx):
        if not (isinstance(idx, np.ndarray) and idx.dtype.kind == "i" and idx.ndim == 1):
            idx = np.asarray(idx)
            if idx.ndim != 1 or not (idx.size == 0 or np.issubdtype(idx.dtype, np.integer)):
                raise ValueError(f"idx must be a 1-D array of integer indices, got dtype {idx.dtype} and shape "
                                 f"{idx.shape}")
        # O(M), beside the O(M D) gradients: an empty or out-of-range minibatch names idx, not X
        n = self.n_data
        if idx.size == 0 or idx.min() < -n or idx.max() >= n:
            raise ValueError(f"idx must hold at least one index in [-{n}, {n}) (N = {n} examples), got "
                             f"{idx.size} indices" + (f" in {idx.min()}..{idx.max()}" if idx.size else ""))
        return idx
