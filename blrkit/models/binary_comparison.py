r"""BayesBiNN against the straight-through estimator on a binary-weight network (issue #12's workload).

Both train the weights :math:`w \in \{-1, +1\}^P` of a :class:`~blrkit.models.binary_mlp.BinaryMLP`.
BayesBiNN (:func:`~blrkit.algorithms.bayesbinn`) learns a posterior, the mean-field Bernoulli
:math:`q(w) = \prod_j \tfrac12(1 + \tanh(\lambda_j) w_j)` under the prior :math:`\lambda_0 = 0` (each weight ±1 with
probability ½), and predicts with the Bayesian model average over samples :math:`w \sim q`; it is scored
again at the sign of its mean, :math:`\operatorname{sign}\mu` (``"bayesbinn@sign"``, the binary network one
would deploy) and at the mean itself, :math:`w = \mu = \tanh\lambda` (``"bayesbinn@mean"``, *not* a binary
network: the relaxed network that training evaluates, for comparison). STE (:func:`~blrkit.algorithms.ste`)
learns latent real weights and predicts with their sign (Khan & Rue 2023, Sec. 4.5).

The real biases are point estimates for both, trained by Adam (the emitted
:func:`~blrkit.algorithms._generated.adam.adam_step`) on the same minibatch as the weights, inside the
gradient callable that the drivers call once per step (for BayesBiNN at the mean of the gradients over the
relaxed samples). Both methods start from the same sign vector (latent weights ``ste_init``·sign, natural
parameters ``bayesbinn_init``·sign) and the same biases (zero), and see the same sequence of minibatches:
the callable draws them from its own generator, so that BayesBiNN's draws of the relaxation do not shift
them (each driver is run on the full batch, ``batch_size = N``, with a minibatch estimate of the mean gradient).
The scores are accuracy, negative log-likelihood and expected calibration error
(:func:`~blrkit.models.comparison.score`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blrkit._validation import check_choice, check_instance
from blrkit.algorithms import bayesbinn, ste
from blrkit.algorithms._common import check_rng
from blrkit.algorithms._generated.adam import adam_step
from blrkit.models.binary_mlp import BinaryMLP
from blrkit.models.comparison import score
from blrkit.models.predictive import binary_model_average

__all__ = ["BinarySettings", "binary_predictives", "compare_binary", "train_binary"]

METHODS = ("ste", "bayesbinn")


@dataclass(frozen=True)
class BinarySettings:
    """The training protocol of :func:`compare_binary`.

    The defaults are for the 64-64-10 network with scales (1/8, 1) on digits (with the last layer scaled by
    1/8 too, both methods were underconfident: validation ECE ≈ 0.4 for STE, 0.5-0.6 for BayesBiNN's average).
    The step sizes and the temperature were chosen on a validation split of digits' training set (300 of its
    1,257 images, 3,000 steps of 64, one seed), from a grid for each method alike, by the validation negative
    log-likelihood of the predictive each is scored by (STE's sign network, BayesBiNN's model average):
    STE lr in {0.01, 0.03, 0.1, 0.3} (NLL 0.154, 0.179, 0.170, 0.176); BayesBiNN lr in {1e-3, 3e-3, 1e-2} ×
    temperature in {0.1, 0.3, 1} (best 0.405 at (1e-3, 0.3); 0.451 at (1e-3, 0.1), 0.524 at (3e-3, 0.3),
    the rest higher), one relaxed sample per step, no momentum.  ``ste_init`` and ``bayesbinn_init`` are
    the magnitudes of the start; ``bias_lr`` is Adam's step for the biases; ``n_bma`` samples of q make the
    model average.
    """

    n_steps: int = 3000
    batch_size: int = 64
    ste_lr: float = 0.01
    ste_init: float = 0.01
    bayesbinn_lr: float = 1e-3
    temperature: float = 0.3
    n_samples: int = 1
    momentum: float = 0.0
    prior: float = 0.0
    bayesbinn_init: float = 1.0
    bias_lr: float = 0.01
    n_bma: int = 32


class _MinibatchGradient:
    """``grad_batch(w, idx)`` for the drivers: the mean gradient in w on a minibatch of its own drawing (``idx``
    is the full batch and ignored), and an Adam step of the biases b on the same minibatch (at the mean of
    their gradients over the leading axes of w, BayesBiNN's relaxed samples)."""

    def __init__(self, bnet, X, y, batch_size, bias_lr, rng):
        self.bnet, self.X, self.y, self.M, self.lr, self.rng = bnet, X, y, batch_size, bias_lr, rng
        self.b = np.zeros(bnet.n_biases)
        self.v, self.g_avg, self.t = np.zeros_like(self.b), np.zeros_like(self.b), 0

    def __call__(self, w, idx):
        batch = np.sort(self.rng.choice(len(self.y), self.M, replace=False))
        g_w, g_b = self.bnet.gradients(w, self.b, self.X[batch], self.y[batch])
        g_b = g_b.reshape(-1, self.bnet.n_biases).mean(0)
        self.t += 1
        # Adam with PyTorch's defaults β = (0.9, 0.999), ε = 1e-8 (the BLR's ρ = 1 − β₂)
        self.b, self.v, self.g_avg = adam_step(self.b, self.v, self.g_avg, 1e-3, self.lr, 1e-8, 0.9, self.t,
                                               lambda b: g_b)
        return g_w


def train_binary(name: str, bnet: BinaryMLP, X, y, signs0, settings: BinarySettings = BinarySettings(), rng=0):
    """Train ``bnet`` on ``(X, y)`` with ``"ste"`` or ``"bayesbinn"`` from the sign vector ``signs0``.

    Returns ``(lam, b)``: STE's latent weights or BayesBiNN's natural parameters λ ``(P,)``, and the biases
    ``(B,)``. ``rng`` (a seed or a Generator) gives one generator for the minibatches and one for BayesBiNN's
    relaxation, so that both methods see the same minibatches from the same seed.
    """
    check_choice(name, "name", METHODS)
    _check_protocol(bnet, settings)
    X, y = bnet.net._data(X, y)
    signs0 = bnet._weights(signs0)
    if signs0.shape != (bnet.n_weights,) or not np.all(np.abs(signs0) == 1):
        raise ValueError(f"signs0 must be one sign vector of {bnet.n_weights} entries ±1, got shape {signs0.shape}")
    st, N = settings, len(y)
    batches, relax = (np.random.default_rng(s) for s in _seeds(rng).spawn(2))
    grad = _MinibatchGradient(bnet, X, y, min(st.batch_size, N), st.bias_lr, batches)
    if name == "ste":
        res = ste(grad, st.ste_init * signs0, lr=st.ste_lr, n_steps=st.n_steps, n_data=N, batch_size=N)
    else:
        res = bayesbinn(grad, st.bayesbinn_init * signs0, lr=st.bayesbinn_lr, temperature=st.temperature,
                                   n_steps=st.n_steps, n_data=N, batch_size=N, prior=st.prior,
                                   n_samples=st.n_samples, momentum=st.momentum, rng=relax)
    return res.natural[-1], grad.b


def binary_predictives(bnet: BinaryMLP, X_train, y_train, X_test, *, settings: BinarySettings = BinarySettings(),
                       rng=0) -> dict:
    """Train STE and BayesBiNN from one random sign vector and return their predictive probabilities on
    ``X_test``, ``{name: (n, K)}``: ``"ste"``, ``"bayesbinn"`` (the model average over ``settings.n_bma``
    samples of q), ``"bayesbinn@sign"`` and ``"bayesbinn@mean"``."""
    _check_protocol(bnet, settings)
    X_train, y_train = bnet.net._data(X_train, y_train)
    X_test = bnet.net._inputs(X_test)
    init, train, bma = (np.random.default_rng(s) for s in _seeds(rng).spawn(3))
    signs0 = np.where(init.uniform(size=bnet.n_weights) < 0.5, -1.0, 1.0)
    train_seed = train.integers(2**63)
    latent, b_ste = train_binary("ste", bnet, X_train, y_train, signs0, settings, train_seed)
    lam, b = train_binary("bayesbinn", bnet, X_train, y_train, signs0, settings, train_seed)
    return {
        "ste": bnet.predict_proba(_sign(latent), b_ste, X_test),
        "bayesbinn": binary_model_average(bnet, lam, b, X_test, settings.n_bma, bma),
        "bayesbinn@sign": bnet.predict_proba(_sign(lam), b, X_test),
        "bayesbinn@mean": bnet.predict_proba(np.tanh(lam), b, X_test),
    }


def compare_binary(bnet: BinaryMLP, X_train, y_train, X_test, y_test, *,
                   settings: BinarySettings = BinarySettings(), rng=0) -> dict:
    """The :class:`~blrkit.models.comparison.Scores` of each predictive of :func:`binary_predictives` on
    ``(X_test, y_test)``.

    >>> from blrkit.models import BinaryMLP
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)); y = (X[:, 0] > 0).astype(int)
    >>> res = compare_binary(BinaryMLP((2, 8, 2)), X, y, X, y, settings=BinarySettings(n_steps=50, batch_size=10))
    >>> sorted(res)
    ['bayesbinn', 'bayesbinn@mean', 'bayesbinn@sign', 'ste']
    """
    probs = binary_predictives(bnet, X_train, y_train, X_test, settings=settings, rng=rng)
    return {name: score(p, y_test) for name, p in probs.items()}


def _check_protocol(bnet, settings):
    check_instance(bnet, "bnet", BinaryMLP, "a blrkit.models.BinaryMLP")
    check_instance(settings, "settings", BinarySettings, "a blrkit.models.binary_comparison.BinarySettings")


def _sign(lam):
    """sign(λ) with +1 at 0, as the STE step binarises."""
    return np.where(lam >= 0, 1.0, -1.0)


def _seeds(rng) -> np.random.SeedSequence:
    check_rng(rng)  # a Generator, a non-negative int seed or None: named, not NumPy's SeedSequence error
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(rng.integers(2**63))
    return np.random.SeedSequence(rng)
