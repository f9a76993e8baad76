r"""Stochastic variational inference: the conjugate BLR with minibatches and a Robbins–Monro ρ_t (Sec. 5.3).

For a model whose likelihood is conjugate to q, the BLR with the stochastic approximation
:math:`\sum_{i=1}^N\ell_i \approx \tfrac NM\sum_{i\in\mathcal B_t}\ell_i` is SVI (Hoffman et al. 2013):
:math:`\lambda_{t+1} = (1-\rho_t)\lambda_t + \rho_t(\lambda_0 + \tfrac NM\sum_{i\in\mathcal B_t}\tilde\lambda_i)`.
The recipe ``svi`` derives it for a Gaussian mean with known noise variance; the numeric step is the
emitted :func:`~blrkit.algorithms._generated.svi.svi_step`.
"""

from __future__ import annotations

import math

import numpy as np

from blrkit._array_api import array_library, device, on_device, to_numpy
from blrkit._validation import as_float_array, check_count, check_positive, check_scalar
from blrkit.algorithms._common import broadcast_to_batch, check_minibatch, named_failures
from blrkit.algorithms._generated.svi import svi_step
from blrkit.algorithms._generated.svi_lda import svi_lda_step
from blrkit.algorithms._namespace import floating_dtype, indices_on, namespace_and_reference
from blrkit.algorithms._runner import Run
from blrkit.algorithms.results import LDAResult

__all__ = ["learning_rates", "svi_gaussian_mean", "svi_lda"]


def learning_rates(learning_offset, learning_decay, n_steps: int) -> np.ndarray:
    r"""The Robbins–Monro schedule :math:`\rho_t = (\tau_0 + t)^{-\kappa}`, t = 1 … ``n_steps`` (scikit-learn's
    ``learning_offset`` τ₀ and ``learning_decay`` κ; Hoffman et al. 2013).

    τ₀ ≥ 0 and κ ∈ [0, 1] keep every ρ_t in (0, 1]; κ ∈ (0.5, 1] meets the Robbins–Monro conditions
    (Σρ_t = ∞, Σρ_t² < ∞), κ = 0 is ρ_t = 1.

    >>> learning_rates(0.0, 1.0, 3)
    array([1.        , 0.5       , 0.33333333])
    """
    tau0 = check_scalar(learning_offset, "learning_offset", low=0.0, closed_low=True)
    kappa = check_scalar(learning_decay, "learning_decay", low=0.0, high=1.0, closed_low=True, closed_high=True)
    return (tau0 + np.arange(1, n_steps + 1)) ** -kappa


def svi_gaussian_mean(y, *, prior_mean, prior_precision, noise_variance, batch_size: int, n_steps: int,
                      learning_offset=1.0, learning_decay=0.7, m0=None, precision0=None, batches=None, rng=None):
    r"""SVI for the mean θ of :math:`y_i \sim \mathcal N(\theta, \sigma^2)`, prior :math:`\mathcal N(m_0, S_0^{-1})`.

    Step t = 1, 2, … draws a minibatch ``np.sort(rng.choice(N, batch_size, replace=False))`` (or takes
    ``batches[t − 1]``) and moves the natural parameters with :math:`\rho_t = (\tau_0 + t)^{-\kappa}`,
    scikit-learn's ``learning_offset`` τ₀ ≥ 0 and ``learning_decay`` κ ∈ [0, 1] (:func:`learning_rates`;
    κ ∈ (0.5, 1] for the Robbins–Monro conditions; κ = 1 and τ₀ = 0 give ρ_t = 1/t, which over one epoch of
    single data without replacement reaches the exact posterior).  Arrays of another Array API library
    (PyTorch, CuPy, JAX, …; every array argument from the same one) compute with it and give its arrays; the
    minibatches are drawn by ``rng`` on the host.

    Returns
    -------
    (means, precisions) : tuple of ndarray
        Every iterate, ``(n_steps + 1, *batch)``; index 0 is the start (default: the prior).

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import svi_gaussian_mean
    >>> y = np.random.default_rng(0).normal(2.0, 1.0, size=100)
    >>> m, S = svi_gaussian_mean(y, prior_mean=0.0, prior_precision=1.0, noise_variance=1.0, batch_size=10,
    ...                          n_steps=500, rng=0)
    >>> bool(abs(m[-1] - y.sum() / 101) < 0.05), float(S[-1])    # the exact posterior: mean Σy/(N+1), S = N+1
    (True, 101.0)
    """
    xp, like = namespace_and_reference(y=y, prior_mean=prior_mean, prior_precision=prior_precision,
                                       noise_variance=noise_variance, m0=m0, precision0=precision0)
    dtype = floating_dtype(xp, y=y, m0=m0, precision0=precision0)  # float32 data: a float32 run
    y = on_device(xp, as_float_array(y, "y", min_ndim=1), like)
    N, batch = y.shape[-1], tuple(y.shape[:-1])
    check_minibatch(N, batch_size)
    # the scalars as arrays beside y (check_positive gives NumPy for a Python number)
    m0_ = on_device(xp, as_float_array(prior_mean, "prior_mean"), y)
    S0 = on_device(xp, check_positive(prior_precision, "prior_precision"), y)
    s2 = on_device(xp, check_positive(noise_variance, "noise_variance"), y)
    # one value, or one per problem (the batch shape of y)
    m0_, S0, s2 = (broadcast_to_batch(a, name, batch) for a, name in
                   ((m0_, "prior_mean"), (S0, "prior_precision"), (s2, "noise_variance")))
    with np.errstate(over="ignore", invalid="ignore"):
        finite = bool(xp.all(xp.isfinite(S0 * m0_)))
    if not finite:
        raise ValueError("prior_precision * prior_mean (the prior's natural parameter) overflows float64: "
                         "rescale y and prior_mean (the posterior mean is scale-equivariant)")
    run = Run(xp, n_steps=n_steps, n_data=N, batch_size=batch_size, rng=rng, dtype=dtype)
    rhos = learning_rates(learning_offset, learning_decay, run.n_steps)
    m = m0_ if m0 is None else on_device(xp, as_float_array(m0, "m0"), y)
    S = S0 if precision0 is None else on_device(xp, check_positive(precision0, "precision0"), y)
    m, S = (xp.astype(xp.broadcast_to(a, batch), xp.float64, copy=True) for a in (m, S))

    def step(state):
        t = run.t
        idx = run.minibatch(y) if batches is None else indices_on(xp, _on_host(batches[t - 1]), y)
        y_t = y[..., idx] if xp is np else xp.take(y, idx, axis=-1)
        # ρ_t a Python float: a NumPy scalar would be a second array library beside y's
        return svi_step(*state, float(rhos[t - 1]), m0_, S0, y_t, s2, N)

    return run.loop(step, (m, S), inputs={"y": y, "prior_mean": m0_, "prior_precision": S0})


def _on_host(a) -> np.ndarray:
    """An index array (a list, a NumPy array or another library's array) as a NumPy array."""
    return np.asarray(a) if array_library(a) in (None, "numpy") else to_numpy(a)


@named_failures
def svi_lda(counts_batches, *, lambda0, doc_topic_prior, topic_word_prior, total_docs, learning_offset=10.0,
            learning_decay=0.7, max_doc_update_iter=100, mean_change_tol=1e-3, doc_topic_init=None) -> LDAResult:
    r"""Stochastic variational inference for latent Dirichlet allocation, one minibatch of documents per step.

    For minibatch :math:`t = 1, 2, \dots` (documents :math:`d \in \mathcal B_t`, word counts :math:`n_{dw}`),
    the documents' local blocks iterate at ρ = 1 from :math:`\gamma_d` (``doc_topic_init``, ones by default)
    until the mean absolute change of :math:`\gamma_d` is below ``mean_change_tol``,

    .. math::

        \phi_{dwk} \propto \exp\big(\mathbb E[\log\theta_{dk}] + \mathbb E[\log\beta_{kw}]\big), \qquad
        \gamma_{dk} = \alpha + \sum_w n_{dw}\phi_{dwk},

    then the topics take a stochastic BLR step with :math:`\rho_t = (\tau_0 + t)^{-\kappa}`:

    .. math::

        \lambda \leftarrow (1 - \rho_t)\lambda + \rho_t\Big(\eta + \frac{D}{|\mathcal B_t|}
        \sum_{d\in\mathcal B_t} n_{dw}\phi_{dwk}\Big)

    (the recipe ``svi_lda``, derived by :mod:`blrkit.derive.lda`; Hoffman, Blei & Bach 2010; Khan & Rue 2023,
    Sec. 5.3).  The same iteration as scikit-learn's ``LatentDirichletAllocation(learning_method="online")``
    with ``learning_offset`` τ₀, ``learning_decay`` κ, ``total_samples`` D and ``partial_fit`` per minibatch,
    given the same initial λ and γ.

    Parameters
    ----------
    counts_batches : sequence of array_like, each (n_b, V)
        The minibatches in order: word counts, finite and non-negative, every document with a word.  Arrays of
        another Array API library (PyTorch, CuPy, JAX, …; every array argument from the same one) compute with
        it and give its arrays, on their device.
    lambda0 : array_like, shape (K, V)
        Initial topic parameters λ, positive.
    doc_topic_prior, topic_word_prior : float
        α and η, positive.
    total_docs : int
        D, the number of documents of the corpus, at least the largest minibatch.
    learning_offset, learning_decay : float
        τ₀ ≥ 0 and κ in [0, 1] (κ in (0.5, 1] for the Robbins–Monro conditions; κ = 0 is ρ = 1).
    max_doc_update_iter : int
        Cap on the local iterations per minibatch, ≥ 1.
    mean_change_tol : float
        The local stopping rule, > 0.
    doc_topic_init : sequence of array_like, each (n_b, K), optional
        Initial γ of each minibatch's documents, positive; ones by default.

    Returns
    -------
    LDAResult
        ``topic_word`` λ ``(n_batches + 1, K, V)`` (index 0 the start), ``doc_topic`` (γ of each minibatch at its
        local fixed point, a tuple of ``(n_b, K)`` arrays), ``learning_rates`` ρ_t ``(n_batches,)``.

    Examples
    --------
    >>> import numpy as np
    >>> from blrkit.algorithms import svi_lda
    >>> counts = [np.array([[3, 0, 1], [0, 2, 2]]), np.array([[1, 1, 0]])]
    >>> res = svi_lda(counts, lambda0=np.ones((2, 3)), doc_topic_prior=0.5, topic_word_prior=0.1, total_docs=10)
    >>> res.topic_word.shape, np.round(res.learning_rates, 3)
    ((3, 2, 3), array([0.187, 0.176]))
    """
    if array_library(counts_batches) is not None and counts_batches.ndim == 2:
        raise TypeError("counts_batches must be a sequence of (n_b, V) minibatches, got one 2-D array; wrap it in a "
                        "list for a single minibatch")
    try:
        counts_batches = list(counts_batches)
    except TypeError:
        raise TypeError(f"counts_batches must be a sequence of (n_b, V) minibatches, got "
                        f"{type(counts_batches).__name__}") from None
    inits_given = None if doc_topic_init is None else list(doc_topic_init)
    xp, like = namespace_and_reference(lambda0=lambda0,
                                       **{f"counts_batches[{b}]": c for b, c in enumerate(counts_batches)},
                                       **{f"doc_topic_init[{b}]": g for b, g in enumerate(inits_given or ())})
    lam = on_device(xp, check_positive(as_float_array(lambda0, "lambda0"), "lambda0"), like)
    if lam.ndim != 2:
        raise ValueError(f"lambda0 must be (K, V), got shape {tuple(lam.shape)}")
    K, V = lam.shape
    alpha = check_scalar(doc_topic_prior, "doc_topic_prior", low=0.0)
    eta = check_scalar(topic_word_prior, "topic_word_prior", low=0.0)
    tol = check_scalar(mean_change_tol, "mean_change_tol", low=0.0)
    if isinstance(max_doc_update_iter, bool) or not isinstance(max_doc_update_iter, (int, np.integer)) \
            or max_doc_update_iter < 1:
        raise ValueError(f"max_doc_update_iter must be a positive integer, got {max_doc_update_iter!r}")
    batches = []
    for b, counts in enumerate(counts_batches):
        c = on_device(xp, as_float_array(counts, f"counts_batches[{b}]"), lam)
        if c.ndim != 2 or c.shape[1] != V or c.shape[0] == 0:
            raise ValueError(f"counts_batches[{b}] must be (n_b, V) = (n_b >= 1, {V}) to match lambda0, got "
                             f"{tuple(c.shape)}")
        if bool(xp.any(c < 0)):
            raise ValueError(f"counts_batches[{b}] holds a negative count (word counts are non-negative)")
        if bool(xp.any(xp.sum(c, axis=1) == 0)):
            empty = np.flatnonzero(np.sum(to_numpy(c), axis=1) == 0)
            raise ValueError(f"counts_batches[{b}] holds empty documents (no words) at rows {empty.tolist()}")
        batches.append(c)
    if not batches:
        raise ValueError("counts_batches must hold at least one minibatch")
    D = check_count(total_docs, "total_docs")
    largest = max(c.shape[0] for c in batches)
    if D < largest:
        raise ValueError(f"total_docs (D = {D}) must be at least the largest minibatch ({largest})")
    if inits_given is None:
        inits = [xp.ones((c.shape[0], K), dtype=xp.float64, device=device(lam)) for c in batches]
    else:
        inits = [on_device(xp, check_positive(as_float_array(g, f"doc_topic_init[{b}]"), f"doc_topic_init[{b}]"), lam)
                 for b, g in enumerate(inits_given)]
        if len(inits) != len(batches) or any(tuple(g.shape) != (c.shape[0], K) for g, c in zip(inits, batches)):
            raise ValueError(f"doc_topic_init must hold one (n_b, K = {K}) array per minibatch")
    rhos = learning_rates(learning_offset, learning_decay, len(batches))
    path, gammas = [lam], []
    for c, g, rho in zip(batches, inits, rhos):
        # ρ_t a Python float: a NumPy scalar would be a second array library beside λ's
        lam, g = svi_lda_step(lam, g, c, float(rho), alpha, eta, D, int(max_doc_update_iter), tol)
        # from positive inputs the step keeps λ and γ positive and finite: one pass each, O(KV + n_b K) per step
        if not (bool(xp.all((lam > 0) & (lam < math.inf))) and bool(xp.all((g > 0) & (g < math.inf)))):
            raise ValueError(f"the update svi_lda_step at step {len(path)} gave topic-word or document-topic "
                             "parameters (lambda, gamma) that are not positive and finite")
        path.append(lam)
        gammas.append(g)
    return LDAResult(topic_word=xp.stack(path), doc_topic=tuple(gammas), learning_rates=on_device(xp, rhos, lam))
