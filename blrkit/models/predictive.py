r"""The Bayesian model average: the predictive distribution of a posterior over a network's weights.

With a posterior q(θ), the predictive probability of class k for an input x averages the network
over q: :math:`p(k \mid x) = \mathbb E_{q(\theta)}[\mathrm{softmax}(f_\theta(x))_k]
\approx \frac1S\sum_{s=1}^S \mathrm{softmax}(f_{\theta_s}(x))_k`, :math:`\theta_s \sim q`. For the
mean-field Gaussians of VOGN and IVON, :math:`q = \mathcal N(m, \mathrm{diag}(s)^{-1})`, each sample is
:math:`\theta_s = m + \varepsilon_s \oslash \sqrt s` (Khan & Rue 2023, Sec. 4.4). For the mean-field Bernoulli
of BayesBiNN over binary weights, :math:`q(w) = \prod_j \tfrac12(1 + \tanh(\lambda_j) w_j)` on
:math:`\{-1, +1\}^P`, each sample is :math:`w_{s,j} = +1` with probability :math:`\sigma(2\lambda_j)` (Sec. 4.5).
"""

from __future__ import annotations

import numpy as np

from blrkit._validation import as_float_array, check_count, check_instance, check_positive
from blrkit.algorithms._common import check_rng
from blrkit.models.binary_mlp import BinaryMLP
from blrkit.models.mlp import MLP

__all__ = ["bayesian_model_average", "binary_model_average", "sample_binary_weights", "sample_diagonal_gaussian"]


def sample_diagonal_gaussian(mean, precision, n_samples, rng) -> np.ndarray:
    r"""``n_samples`` draws from :math:`\mathcal N(m, \mathrm{diag}(s)^{-1})`, ``(n_samples, *mean.shape)``.

    >>> sample_diagonal_gaussian([0.0, 10.0], [1e12, 1e12], 2, np.random.default_rng(0)).round(3)
    array([[ 0., 10.],
           [ 0., 10.]])
    """
    m = as_float_array(mean, "mean", min_ndim=1)
    s = check_positive(precision, "precision")
    try:
        fits = np.broadcast_shapes(s.shape, m.shape) == m.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"precision must broadcast to the shape {m.shape} of mean, got shape {s.shape}")
    n_samples = check_count(n_samples, "n_samples")
    rng = check_rng(rng)
    return m + rng.standard_normal((n_samples,) + m.shape) / np.sqrt(s)


def sample_binary_weights(lam, n_samples, rng) -> np.ndarray:
    r"""``n_samples`` draws :math:`w \sim q` of the mean-field Bernoulli on :math:`\{-1, +1\}^P` with natural
    parameters λ: each :math:`w_j = +1` with probability :math:`p_j = \sigma(2\lambda_j) = \tfrac12(1 + \tanh\lambda_j)`,
    ``(n_samples, *lam.shape)``.

    >>> sample_binary_weights([40.0, -40.0], 2, np.random.default_rng(0))
    array([[ 1., -1.],
           [ 1., -1.]])
    """
    lam = as_float_array(lam, "lam", min_ndim=1)
    n_samples = check_count(n_samples, "n_samples")
    rng = check_rng(rng)
    p_plus = 0.5 * (1 + np.tanh(lam))
    return np.where(rng.uniform(size=(n_samples,) + lam.shape) < p_plus, 1.0, -1.0)


def bayesian_model_average(net, thetas, X) -> np.ndarray:
    r"""The average of ``net``'s class probabilities over the samples ``thetas`` ``(S, *lead, D)``:
    ``(*lead, n, K)``.

    >>> from blrkit.models import MLP
    >>> net = MLP((1, 2, 2)); th = net.init(0, batch=(3,))
    >>> np.allclose(bayesian_model_average(net, th, [[0.5]]), net.predict_proba(th, [[0.5]]).mean(0))
    True
    """
    check_instance(net, "net", MLP, "a blrkit.models.MLP")
    thetas = net._theta(thetas)
    if thetas.ndim < 2:
        raise ValueError(f"thetas must have a leading samples axis, (S, *lead, D), got shape {thetas.shape}")
    return net.predict_proba(thetas, X).mean(0)


def binary_model_average(bnet, lam, b, X, n_samples, rng) -> np.ndarray:
    r"""The Bayesian model average of a binary-weight network over its mean-field Bernoulli posterior:
    :math:`\frac1S\sum_s \mathrm{softmax}(f_{w_s, b}(x))`, :math:`w_s \sim q` (:func:`sample_binary_weights`),
    one set of real biases b; ``(n, K)``.

    Parameters
    ----------
    bnet : BinaryMLP
    lam : array_like, shape (P,)
        Natural parameters λ of q.
    b : array_like, shape (B,)
        The biases.
    X : array_like, shape (n, d_0)
    n_samples : int
        S.
    rng : numpy.random.Generator or int

    Examples
    --------
    >>> from blrkit.models import BinaryMLP
    >>> bnet = BinaryMLP((2, 3, 2)); lam = np.full(bnet.n_weights, 40.0)    # q is the point w = (1, …, 1)
    >>> np.allclose(binary_model_average(bnet, lam, np.zeros(bnet.n_biases), [[1.0, 2.0]], 4, 0),
    ...             bnet.predict_proba(np.ones(bnet.n_weights), np.zeros(bnet.n_biases), [[1.0, 2.0]]))
    True
    """
    check_instance(bnet, "bnet", BinaryMLP, "a blrkit.models.BinaryMLP")
    ws = sample_binary_weights(lam, n_samples, rng)
    return bayesian_model_average(bnet.net, bnet.theta(ws, b), X)
