r"""How good and how honest a classifier's predictive probabilities are.

For predictive probabilities :math:`p_{ik}` (example i, class k) and labels :math:`y_i`:

* accuracy: the fraction of examples with :math:`\arg\max_k p_{ik} = y_i`;
* negative log-likelihood: :math:`-\frac1n\sum_i \log p_{i y_i}` (the test loss; it punishes confident
  mistakes without bound);
* expected calibration error (Naeini et al. 2015; Guo et al. 2017): split the confidences
  :math:`c_i = \max_k p_{ik}` into B equal-width bins :math:`(b/B, (b+1)/B]` and average the gap
  between accuracy and confidence in each, weighted by the bin's share of the examples,
  :math:`\mathrm{ECE} = \sum_b \frac{n_b}{n}\,|\mathrm{acc}_b - \mathrm{conf}_b|`. A calibrated
  classifier is right 80 % of the time when it says 80 %.

All take ``probs`` ``(*lead, n, K)`` and ``y`` ``(n,)`` and return ``(*lead,)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from blrkit._validation import as_float_array, check_count

__all__ = ["ReliabilityBins", "accuracy", "expected_calibration_error", "negative_log_likelihood",
           "reliability_bins"]


def _check(probs, y):
    p = as_float_array(probs, "probs", min_ndim=2)
    if np.any(p < 0) or not np.allclose(p.sum(-1), 1.0, rtol=0, atol=1e-6):
        raise ValueError("probs must be probabilities: non-negative, summing to 1 over the last axis")
    y = np.asarray(y)
    if y.shape != p.shape[-2:-1] or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be integer labels of shape {p.shape[-2:-1]}, got dtype {y.dtype} and shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= p.shape[-1]):
        raise ValueError(f"y must hold labels in 0..{p.shape[-1] - 1}")
    return p, y


def accuracy(probs, y) -> np.ndarray:
    """The fraction of correct arg-max predictions.

    >>> float(accuracy([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]], [0, 0, 0]))
    0.6666666666666666
    """
    p, y = _check(probs, y)
    return (p.argmax(-1) == y).mean(-1)


def negative_log_likelihood(probs, y) -> np.ndarray:
    r"""The mean :math:`-\log p_{i y_i}` (a probability of 0 gives inf, honestly).

    >>> round(float(negative_log_likelihood([[0.5, 0.5], [0.25, 0.75]], [0, 1])), 6)  # (log 2 + log 4/3)/2
    0.490415
    """
    p, y = _check(probs, y)
    with np.errstate(divide="ignore"):
        return -np.log(p[..., np.arange(len(y)), y]).mean(-1)


class ReliabilityBins(NamedTuple):
    """Per bin (``n_bins`` equal-width bins of the confidence): the ``edges`` ``(n_bins + 1,)``, and,
    each ``(*lead, n_bins)``, the mean ``confidence``, the ``accuracy`` (NaN in an empty bin) and the
    ``counts``."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray


def reliability_bins(probs, y, n_bins=10) -> ReliabilityBins:
    """Confidence and accuracy per bin: the data of a reliability diagram.

    Bin b holds the confidences in ``(b/B, (b+1)/B]`` (the first also holds 0).

    >>> r = reliability_bins([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]], [0, 1, 1], n_bins=2)
    >>> r.counts.tolist(), r.accuracy.round(4).tolist(), r.confidence.round(4).tolist()
    ([0, 3], [nan, 0.6667], [nan, 0.7333])
    """
    p, y = _check(probs, y)
    n_bins = check_count(n_bins, "n_bins")
    conf, correct = p.max(-1), (p.argmax(-1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    b = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    onehot = b[..., None] == np.arange(n_bins)                  # (*lead, n, B)
    counts = onehot.sum(-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(counts > 0, (onehot * conf[..., None]).sum(-2) / counts, np.nan)
        mean_acc = np.where(counts > 0, (onehot * correct[..., None]).sum(-2) / counts, np.nan)
    return ReliabilityBins(edges, mean_conf, mean_acc, counts)


def expected_calibration_error(probs, y, n_bins=10) -> np.ndarray:
    r"""ECE, :math:`\sum_b \frac{n_b}{n}\,|\mathrm{acc}_b - \mathrm{conf}_b|`, over ``n_bins`` equal-width confidence bins.

    >>> round(float(expected_calibration_error([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]], [0, 1, 1], n_bins=2)), 6)
    0.066667
    """
    r = reliability_bins(probs, y, n_bins)
    n = r.counts.sum(-1)
    gap = np.where(r.counts > 0, np.abs(np.nan_to_num(r.accuracy) - np.nan_to_num(r.confidence)), 0.0)
    return (r.counts * gap).sum(-1) / n
