r"""Memorable examples: which data the posterior remembers, read off the sites.

Each site is a Gaussian pseudo-observation with precision :math:`\beta_i` and dual weight
:math:`\alpha_i` (:mod:`blrkit.duality.sites`). An example with :math:`\beta_i \approx 0` adds no
precision (confidently predicted, far from the boundary); one with :math:`\alpha_i \approx 0` does
not move the mean (well fitted). Two scores sort the data (derivations §3):

* the **memorability** :math:`h_i = \beta_i v_i \in [0, 1)`, with :math:`v_i = x_i^\top S^{-1}x_i` the
  predictive variance: the share of the posterior precision along :math:`x_i` that example i's site
  supplies (for a Gaussian likelihood, the leverage, the diagonal of the hat matrix). Removing the
  site multiplies the predictive variance by :math:`1/(1 - h_i)`;
* the **standardised residual** :math:`r_i = \alpha_i / \sqrt{\beta_i}` (the Pearson residual of a
  canonical GLM: :math:`(y_i - \hat y_i)/\sqrt{\mathrm{Var}}`).

*Outliers* have the largest :math:`|r_i|` (for logistic regression, confidently misclassified);
among the others, *uncertain* examples have the largest site precision :math:`\beta_i` (for
logistic regression :math:`\beta_i = p_i(1-p_i)`: predictions closest to ½, near the boundary) and
*easy* ones the smallest (confident and right). The largest dual weights :math:`|\alpha_i|` play the role of
support vectors: :math:`m = P_0^{-1}X^\top\alpha` for a zero-mean prior, a representer theorem
whose weights are the SVM's dual coefficients for the hinge loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blrkit._validation import check_choice
from blrkit.duality.sites import LocalParameters

__all__ = ["MemorableExamples", "memorable_examples", "select_memory"]


@dataclass(frozen=True)
class MemorableExamples:
    """Scores ``(N,)`` and the three groups of indices, each sorted most typical first."""

    memorability: np.ndarray
    residual: np.ndarray
    easy: np.ndarray
    outlier: np.ndarray
    uncertain: np.ndarray


def _check_sites(sites):
    if not isinstance(sites, LocalParameters):
        raise TypeError(f"sites must be the LocalParameters of local_parameters(...), got {type(sites).__name__}")
    if sites.X.ndim != 2:
        raise ValueError(f"sites must be of one problem (X of shape (N, D)), got X of shape {sites.X.shape}")


def check_k(k, n, name="k"):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"{name} must be an integer in [1, N = {n}], got {k!r}")
    return int(k)


def memorable_examples(sites: LocalParameters, k: int = 10) -> MemorableExamples:
    r"""The ``k`` easiest, most outlying and most uncertain examples, from the sites.

    memorability :math:`h_i = \beta_i v_i`, residual :math:`r_i = \alpha_i/\sqrt{\beta_i}`; outliers:
    top-k :math:`|r_i|`; uncertain: top-k :math:`\beta_i` among the others; easy: bottom-k :math:`\beta_i`
    among the rest. The three groups are disjoint (when 3k ≤ N).

    >>> import numpy as np
    >>> from blrkit.duality import fit_glm, local_parameters
    >>> x = np.linspace(-3, 3, 13); X = np.c_[x, np.ones(13)]; y = (x > 0).astype(float); y[-1] = 0
    >>> post = fit_glm(X, y, likelihood="logistic", prior_precision=0.1)
    >>> mem = memorable_examples(local_parameters(X, y, post, likelihood="logistic", prior_precision=0.1), k=1)
    >>> int(mem.outlier[0]), int(mem.uncertain[0]), int(mem.easy[0])  # the 0 at x = 3; x = 1 (p ≈ ½); x = −3
    (12, 8, 0)
    """
    _check_sites(sites)
    k = check_k(k, sites.n)
    h = sites.beta * sites.variance
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(sites.beta > 0, sites.alpha / np.sqrt(sites.beta), np.sign(sites.alpha) * np.inf)
    outlier = np.argsort(-np.abs(r), kind="stable")[:k]
    rest = np.setdiff1d(np.arange(sites.n), outlier)
    uncertain = rest[np.argsort(-sites.beta[rest], kind="stable")[:k]]
    rest = np.setdiff1d(rest, uncertain)
    easy = rest[np.argsort(sites.beta[rest], kind="stable")[:k]]
    return MemorableExamples(memorability=h, residual=r, easy=easy, outlier=outlier, uncertain=uncertain)


def select_memory(sites: LocalParameters, size: int, *, by: str = "memorable", rng=None) -> np.ndarray:
    r"""Indices of a memory of ``size`` examples: the largest site precisions :math:`\beta_i`
    (``by="memorable"``: the points whose loss curvature a K-prior must keep, derivations §4),
    or a uniform draw without replacement (``by="random"``, from ``rng``)."""
    _check_sites(sites)
    size = check_k(size, sites.n, "size")
    check_choice(by, "by", ("memorable", "random"))
    if by == "memorable":
        return np.sort(np.argsort(-sites.beta, kind="stable")[:size])
    if by == "random":
        from blrkit.algorithms._common import check_rng

        return np.sort(check_rng(rng).choice(sites.n, size=size, replace=False))
