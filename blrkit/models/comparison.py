r"""Five optimisers, one network, one start: SGD, RMSprop, Adam, VOGN and IVON trained on the same
Bayesian objective and scored on held-out data.

Every optimiser minimises the same :math:`\bar\ell(\theta) = \sum_i \ell_i(\theta) + \frac\alpha2\|\theta\|^2`
(:class:`~blrkit.models.objective.Objective`), each in its own scaling, from the same θ₀ and with
minibatches of the same size. SGD, RMSprop and Adam return a point θ and predict with it; VOGN and
IVON return a Gaussian :math:`q = \mathcal N(m, \mathrm{diag}(s)^{-1})` and predict with the Bayesian
model average over samples of q (:func:`~blrkit.models.predictive.bayesian_model_average`); their
prediction at the mean m is scored too. The scores are accuracy, negative log-likelihood and
expected calibration error (:mod:`blrkit.models.metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from blrkit._validation import check_choice, check_instance
from blrkit.algorithms._common import check_rng
from blrkit.models.metrics import accuracy, expected_calibration_error, negative_log_likelihood
from blrkit.models.objective import Objective
from blrkit.models.predictive import bayesian_model_average, sample_diagonal_gaussian

__all__ = ["OPTIMISERS", "Scores", "Settings", "compare_optimisers", "score", "train"]

OPTIMISERS = ("sgd", "rmsprop", "adam", "vogn", "ivon")


@dataclass(frozen=True)
class Settings:
    """The training protocol: steps, minibatch size and each optimiser's hyperparameters.

    ``sgd_lr`` is the step on the *mean* loss (SGD's ρ = ``sgd_lr``/N); RMSprop and Adam see the mean
    loss with weight decay α/N (PyTorch's default steps); VOGN runs with ``vogn_rho``, the improved rule
    and a start precision ``vogn_precision0``·N. IVON follows the authors' recipe for image
    classification (Shen et al. 2024; their ``train_ivon.sh``): ``ess = N``, weight decay δ = α/N,
    β₁ = 0.9, β₂ = ``ivon_beta2`` = 0.99999, h₀ = ``ivon_hess_init`` = 0.1 and ``ivon_lr`` = 0.2 in
    ivon-opt's units, whose ``rescale_lr`` takes the step ``ivon_lr``·(h₀ + δ) (what is passed to
    :func:`~blrkit.algorithms.ivon`); one training sample, no clipping, and a constant step where the
    authors anneal it (cosine). ``n_bma`` = 64 samples make each Bayesian model average (their test
    scripts' 64).
    """

    n_steps: int = 2000
    batch_size: int = 128
    sgd_lr: float = 0.1
    rmsprop_lr: float = 1e-3
    adam_lr: float = 1e-3
    vogn_rho: float = 0.01
    vogn_precision0: float = 1.0
    ivon_lr: float = 0.2
    ivon_hess_init: float = 0.1
    ivon_beta2: float = 0.99999
    n_bma: int = 64


class Scores(NamedTuple):
    """Test accuracy, negative log-likelihood and expected calibration error (10 bins)."""

    accuracy: float
    nll: float
    ece: float


def score(probs, y) -> Scores:
    """The three :class:`Scores` of predictive probabilities ``(n, K)`` on labels ``(n,)``."""
    return Scores(float(accuracy(probs, y)), float(negative_log_likelihood(probs, y)),
                  float(expected_calibration_error(probs, y)))


def train(name: str, objective: Objective, theta0, settings: Settings = Settings(), rng=0):
    """Train with optimiser ``name``; return ``(m, s)``: the final mean and, for VOGN and IVON, the
    diagonal posterior precision (``None`` for the point estimates). Copies: the drivers' paths of every
    iterate ((n_steps + 1) × D, 600 MB for 8,000 steps of the digits MLP) are not kept alive."""
    from blrkit import algorithms

    check_choice(name, "name", OPTIMISERS)
    _check_protocol(objective, settings)
    st, N, a = settings, objective.n_data, objective.prior_precision
    rng = check_rng(rng)
    M = min(st.batch_size, N)
    if name == "sgd":
        res = algorithms.stochastic_gradient_descent(objective.grad_sum, theta0, rho=st.sgd_lr / N, n_steps=st.n_steps,
                                                     n_data=N, batch_size=M, rng=rng)
        return res.means[-1].copy(), None
    if name in ("rmsprop", "adam"):
        lr = st.rmsprop_lr if name == "rmsprop" else st.adam_lr
        res = getattr(algorithms, name)(objective.minibatch_grad(M, rng), theta0, lr=lr, n_steps=st.n_steps)
        return res.means[-1].copy(), None
    if name == "vogn":
        res = algorithms.vogn(None, theta0, grad_sums=objective.grad_sums, rho=st.vogn_rho, n_steps=st.n_steps,
                              n_data=N,
                              batch_size=M, precision0=st.vogn_precision0 * N, rng=rng, rule="improved")
        return res.means[-1].copy(), res.precisions[-1].copy()
    if name == "ivon":
        res = algorithms.ivon(objective.grad_batch, theta0, lr=st.ivon_lr * (st.ivon_hess_init + a / N), ess=N,
                              beta2=st.ivon_beta2, hess_init=st.ivon_hess_init, weight_decay=a / N,
                              n_steps=st.n_steps, n_data=N, batch_size=M, rng=rng)
        return res.means[-1].copy(), N * (res.hessians[-1] + a / N)


def _check_protocol(objective, settings):
    check_instance(objective, "objective", Objective, "a blrkit.models.Objective")
    check_instance(settings, "settings", Settings, "a blrkit.models.comparison.Settings")


def compare_optimisers(objective: Objective, theta0, X_test, y_test, *, settings: Settings = Settings(),
                       optimisers=OPTIMISERS, rng=0) -> dict:
    """Train each optimiser from ``theta0`` and score it on ``(X_test, y_test)``.

    Returns ``{name: Scores}``; VOGN and IVON are scored by their Bayesian model average, and again
    at their mean under ``name + "@mean"``. Each optimiser gets its own generators spawned from
    ``rng``, one for training and one for its model average, so that adding or removing one leaves
    the others' draws unchanged.

    >>> from blrkit.models import MLP, Objective
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)); y = (X[:, 0] > 0).astype(int)
    >>> obj = Objective(MLP((2, 4, 2)), X, y, prior_precision=1.0)
    >>> res = compare_optimisers(obj, obj.net.init(0), X, y, settings=Settings(n_steps=50, batch_size=10))
    >>> sorted(res)
    ['adam', 'ivon', 'ivon@mean', 'rmsprop', 'sgd', 'vogn', 'vogn@mean']
    """
    # optimiser i trains with child i and draws its model average's samples from child K + i: neither
    # stream depends on which other optimisers run
    _check_protocol(objective, settings)
    if isinstance(optimisers, str) or not isinstance(optimisers, (tuple, list)):
        raise TypeError(f"optimisers must be a tuple of names from {OPTIMISERS}, got {type(optimisers).__name__}")
    for k, name in enumerate(optimisers):
        check_choice(name, f"optimisers[{k}]", OPTIMISERS)
    check_rng(rng)  # a Generator, a non-negative int seed or None
    K = len(OPTIMISERS)
    # a Generator seeds them from its own stream (it was ignored: fresh entropy each call); None is fresh entropy
    seeds = np.random.SeedSequence(rng.integers(2**63) if isinstance(rng, np.random.Generator) else rng).spawn(2 * K)
    net, out = objective.net, {}
    for name in optimisers:
        m, s = train(name, objective, theta0, settings, np.random.default_rng(seeds[OPTIMISERS.index(name)]))
        out[name if s is None else name + "@mean"] = _finite_scores(score(net.predict_proba(m, X_test), y_test),
                                                                    name, theta0)
        if s is not None:
            bma_rng = np.random.default_rng(seeds[K + OPTIMISERS.index(name)])
            thetas = sample_diagonal_gaussian(m, s, settings.n_bma, bma_rng)
            out[name] = _finite_scores(score(bayesian_model_average(net, thetas, X_test), y_test), name, theta0)
    return out


def _finite_scores(scores: Scores, name: str, theta0) -> Scores:
    """``scores`` if finite; else a ValueError: a test label predicted with probability 0 (a saturated network)
    has an infinite log-loss, which is no score to compare."""
    if all(np.isfinite(v) for v in scores):
        return scores
    size = float(np.max(np.abs(np.asarray(theta0, dtype=float)), initial=0.0))
    raise ValueError(f"{name} predicts a test label with probability 0 (its log-loss is infinite): the network "
                     f"saturated; |theta0| up to {size:.3g}: start nearer 0 (net.init)")

