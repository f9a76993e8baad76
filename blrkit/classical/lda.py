r"""Online variational Bayes for latent Dirichlet allocation, by hand (Hoffman, Blei & Bach 2010).

Model: K topics :math:`\beta_k \sim \mathrm{Dir}(\eta)` over a vocabulary of V words; each document d has topic
proportions :math:`\theta_d \sim \mathrm{Dir}(\alpha)`, and each of its words a topic :math:`z_{dn} \sim
\mathrm{Cat}(\theta_d)` and a word :math:`w_{dn} \sim \mathrm{Cat}(\beta_{z_{dn}})`.  The mean-field posterior
:math:`q(\beta)q(\theta)q(z) = \prod_k \mathrm{Dir}(\beta_k \mid \lambda_k) \prod_d \mathrm{Dir}(\theta_d \mid
\gamma_d) \prod_{dn} \mathrm{Cat}(z_{dn} \mid \phi_{dn})` is fitted by stochastic variational inference: for
each minibatch the local parameters (γ, φ) are optimised to convergence with the global λ fixed, and λ then takes
a step of size :math:`\rho_t` towards the value it would have if the whole corpus were the minibatch
replicated.  In the Bayesian learning rule this is the mean-field BLR with ρ = 1 on the local blocks and a
stochastic natural-gradient step on the global one (Khan & Rue 2023, Sec. 5.3).

Written from the paper's Algorithm 2, sharing no code with :mod:`blrkit.algorithms` or :mod:`blrkit.derive`:
the oracle of the SVI row.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import digamma, gammaln, logsumexp

from blrkit._validation import as_float_array, check_count, check_positive


class OnlineLDAIterates(NamedTuple):
    """Every global iterate of one online-LDA run, and the local parameters of each minibatch."""

    #: λ, (n_batches + 1, K, V): the Dirichlet parameters of the topics, the initial one first
    topic_word: np.ndarray
    #: γ of each minibatch's documents at the λ before that minibatch's update, a tuple of (n_b, K) arrays
    doc_topic: tuple
    #: ρ_t = (τ₀ + t)^(−κ), t = 1 … n_batches, (n_batches,)
    learning_rates: np.ndarray
    #: inner (γ, φ) iterations each document took, a tuple of (n_b,) integer arrays
    inner_iterations: tuple


def online_lda(counts_batches, n_topics, *, doc_topic_prior, topic_word_prior, lambda0, learning_offset,
               learning_decay, total_docs, max_doc_update_iter=100, mean_change_tol=1e-3,
               doc_topic_init=None) -> OnlineLDAIterates:
    r"""Online variational Bayes for LDA (Hoffman, Blei & Bach 2010, Algorithm 2), one minibatch per step.

    For minibatch t (documents :math:`d \in \mathcal B_t`, word counts :math:`n_{dw}`), with
    :math:`\mathbb E[\log\beta_{kw}] = \psi(\lambda_{kw}) - \psi(\sum_{w'}\lambda_{kw'})` from the current λ,
    each document's local parameters iterate, from :math:`\gamma_d` = ``doc_topic_init`` (ones by default),

    .. math::

        \phi_{dwk} \propto \exp\big(\mathbb E[\log\theta_{dk}] + \mathbb E[\log\beta_{kw}]\big), \qquad
        \gamma_{dk} \leftarrow \alpha + \sum_w n_{dw}\phi_{dwk},

    with :math:`\mathbb E[\log\theta_{dk}] = \psi(\gamma_{dk}) - \psi(\sum_j\gamma_{dj})` at the previous γ,
    until the mean absolute change of :math:`\gamma_d` over its K entries is below ``mean_change_tol`` (or
    after ``max_doc_update_iter`` iterations); φ is then recomputed from the final γ.  The global step is

    .. math::

        \tilde\lambda_{kw} = \eta + \frac{D}{|\mathcal B_t|}\sum_{d\in\mathcal B_t} n_{dw}\phi_{dwk}, \qquad
        \lambda \leftarrow (1 - \rho_t)\lambda + \rho_t\tilde\lambda, \qquad \rho_t = (\tau_0 + t)^{-\kappa}.

    α = ``doc_topic_prior``, η = ``topic_word_prior``, D = ``total_docs``, τ₀ = ``learning_offset``,
    κ = ``learning_decay``.  **t counts minibatches from 1** (scikit-learn's convention); the paper's
    Algorithm 2 counts from 0, so its :math:`\tau_0` is this ``learning_offset + 1``.  φ is never stored: only
    its row sums against the counts enter, as in the paper's sparse implementation.  Digamma is scipy's.

    Parameters
    ----------
    counts_batches : sequence of array_like, each (n_b, V)
        The minibatches in order, word counts (non-negative; every document with at least one word).
    n_topics : int
        K.
    doc_topic_prior, topic_word_prior : float
        α and η (> 0).
    lambda0 : array_like, (K, V)
        Initial λ (> 0).
    learning_offset : float
        τ₀ (≥ 0).
    learning_decay : float
        κ in (0.5, 1] for the Robbins–Monro conditions; any κ ≥ 0 is accepted (κ = 0 is ρ = 1, batch VB on
        each minibatch).
    total_docs : int
        D, the corpus size the minibatches are drawn from.
    max_doc_update_iter : int
        Cap on the inner (γ, φ) iterations per document.
    mean_change_tol : float
        Inner stopping rule: :math:`\frac1K\sum_k|\gamma_{dk}^{new} - \gamma_{dk}^{old}|` below it (the paper
        uses 1e-5; scikit-learn's default is 1e-3).
    doc_topic_init : sequence of array_like, each (n_b, K), optional
        Initial γ of every minibatch's documents (> 0); ones when omitted (the paper's Algorithm 2).

    Returns
    -------
    OnlineLDAIterates
        ``topic_word`` (n_batches + 1, K, V), ``doc_topic`` (one (n_b, K) array per batch),
        ``learning_rates`` (n_batches,), ``inner_iterations`` (one (n_b,) array per batch).

    Raises
    ------
    ValueError
        Naming the argument: a negative or non-finite count, an empty document, a vocabulary that disagrees
        with ``lambda0``, K that disagrees with ``lambda0`` or ``doc_topic_init``, non-positive priors or λ.

    References
    ----------
    M. D. Hoffman, D. M. Blei and F. Bach, "Online learning for latent Dirichlet allocation", NIPS 2010,
    Algorithm 2 and Eqs. (5)–(6).

    Examples
    --------
    >>> counts = [np.array([[3, 0, 1], [0, 2, 2]]), np.array([[1, 1, 0]])]
    >>> out = online_lda(counts, 2, doc_topic_prior=0.5, topic_word_prior=0.1, lambda0=np.ones((2, 3)),
    ...                  learning_offset=1.0, learning_decay=0.7, total_docs=10)
    >>> out.topic_word.shape, out.learning_rates.round(3)
    ((3, 2, 3), array([0.616, 0.463]))
    """
    batches, lam, gamma_inits, K = _check_inputs(counts_batches, n_topics, lambda0, doc_topic_init)
    alpha = float(check_positive(doc_topic_prior, "doc_topic_prior"))
    eta = float(check_positive(topic_word_prior, "topic_word_prior"))
    tau0, kappa = _non_negative(learning_offset, "learning_offset"), _non_negative(learning_decay, "learning_decay")
    D = check_count(total_docs, "total_docs")
    max_iter = check_count(max_doc_update_iter, "max_doc_update_iter")
    tol = float(check_positive(mean_change_tol, "mean_change_tol"))

    topic_word, doc_topic, rhos, inner = [lam], [], [], []
    for t, (counts, gamma0) in enumerate(zip(batches, gamma_inits), start=1):
        # exp E[log β_kw] = exp(ψ(λ_kw) − ψ(Σ_w λ_kw))
        exp_elog_beta = np.exp(digamma(lam) - digamma(lam.sum(1, keepdims=True)))
        gamma, sstats, n_inner = _local_step(counts, exp_elog_beta, gamma0, alpha, max_iter, tol)
        # λ̃ = η + (D/|B_t|) Σ_d n_dw φ_dwk;  λ ← (1 − ρ_t) λ + ρ_t λ̃,  ρ_t = (τ₀ + t)^(−κ)
        rho = (tau0 + t) ** (-kappa)
        lam = (1 - rho) * lam + rho * (eta + D / len(counts) * sstats)
        topic_word.append(lam)
        doc_topic.append(gamma)
        rhos.append(rho)
        inner.append(n_inner)
    return OnlineLDAIterates(np.array(topic_word), tuple(doc_topic), np.array(rhos), tuple(inner))


def lda_elbo(counts, topic_word, doc_topic, *, doc_topic_prior, topic_word_prior, total_docs=None) -> float:
    r"""The evidence lower bound of LDA at (λ, γ), with φ at its optimum given them (Hoffman et al. 2010, Eq. 3).

    .. math::

        \mathcal L = s\sum_d\Big[\sum_w n_{dw}\log\sum_k e^{\mathbb E[\log\theta_{dk}] + \mathbb E[\log\beta_{kw}]}
        + \log\Gamma(K\alpha) - K\log\Gamma(\alpha)
        + \sum_k\big((\alpha - \gamma_{dk})\mathbb E[\log\theta_{dk}] + \log\Gamma(\gamma_{dk})\big)
        - \log\Gamma\big(\textstyle\sum_k\gamma_{dk}\big)\Big]
        + \sum_k\Big[\log\Gamma(V\eta) - V\log\Gamma(\eta)
        + \sum_w\big((\eta - \lambda_{kw})\mathbb E[\log\beta_{kw}] + \log\Gamma(\lambda_{kw})\big)
        - \log\Gamma\big(\textstyle\sum_w\lambda_{kw}\big)\Big],

    the first sum over the documents given (``counts``, with their γ), scaled by s = D / n_docs when
    ``total_docs`` = D is given (the paper's per-minibatch estimate of the corpus bound), s = 1 otherwise.
    With φ optimal, :math:`\mathbb E_q[\log p(w_d, z_d \mid \theta_d, \beta)] - \mathbb E_q[\log q(z_d)]`
    collapses to the log-sum-exp term; the rest are the Dirichlet terms :math:`\mathbb E_q[\log p - \log q]`
    of θ and β.  Per minibatch t, ``lda_elbo(counts_batches[t], topic_word[t], doc_topic[t], ...,
    total_docs=D)`` of an :func:`online_lda` run is the bound the paper plots (γ_t is fitted at λ_{t−1} =
    ``topic_word[t]`` with 0-based minibatch index t).

    Parameters
    ----------
    counts : array_like, (n_docs, V)
    topic_word : array_like, (K, V)
        λ.
    doc_topic : array_like, (n_docs, K)
        γ.
    doc_topic_prior, topic_word_prior : float
        α, η.
    total_docs : int, optional
        D, to scale the document terms to the corpus.

    Returns
    -------
    float

    Examples
    --------
    >>> lam, gam = np.array([[2.0, 1.0], [1.0, 2.0]]), np.array([[1.5, 1.5]])
    >>> round(lda_elbo([[1, 1]], lam, gam, doc_topic_prior=1.0, topic_word_prior=1.0), 4)
    -2.5808
    """
    n = as_float_array(counts, "counts")
    lam, gamma = check_positive(topic_word, "topic_word"), check_positive(doc_topic, "doc_topic")
    alpha = float(check_positive(doc_topic_prior, "doc_topic_prior"))
    eta = float(check_positive(topic_word_prior, "topic_word_prior"))
    if lam.ndim != 2 or n.ndim != 2 or n.shape[1] != lam.shape[1] or gamma.shape != (n.shape[0], lam.shape[0]):
        raise ValueError(f"counts (n_docs, V), topic_word (K, V) and doc_topic (n_docs, K) disagree: shapes "
                         f"{n.shape}, {lam.shape}, {gamma.shape}")
    (K, V), n_docs = lam.shape, n.shape[0]
    elog_beta = digamma(lam) - digamma(lam.sum(1, keepdims=True))
    elog_theta = digamma(gamma) - digamma(gamma.sum(1, keepdims=True))
    # Σ_d Σ_w n_dw log Σ_k exp(E[log θ_dk] + E[log β_kw])
    words = sum(n[d] @ logsumexp(elog_theta[d][:, None] + elog_beta, axis=0) for d in range(n_docs))
    # E[log p(θ | α) − log q(θ | γ)], summed over documents
    theta = (n_docs * (gammaln(K * alpha) - K * gammaln(alpha)) + np.sum((alpha - gamma) * elog_theta)
             + np.sum(gammaln(gamma)) - np.sum(gammaln(gamma.sum(1))))
    # E[log p(β | η) − log q(β | λ)], summed over topics
    beta = (K * (gammaln(V * eta) - V * gammaln(eta)) + np.sum((eta - lam) * elog_beta)
            + np.sum(gammaln(lam)) - np.sum(gammaln(lam.sum(1))))
    scale = 1.0 if total_docs is None else check_count(total_docs, "total_docs") / n_docs
    return float(scale * (words + theta) + beta)


def _local_step(counts, exp_elog_beta, gamma0, alpha, max_iter, tol):
    """γ (n_b, K), the expected counts Σ_d n_dw φ_dwk (K, V) and the inner iterations of each document."""
    K, V = exp_elog_beta.shape
    gammas, sstats, n_inner = np.empty((len(counts), K)), np.zeros((K, V)), np.zeros(len(counts), dtype=int)
    for d, n_d in enumerate(counts):
        words = np.flatnonzero(n_d)
        n_w, exp_elog_beta_d = n_d[words], exp_elog_beta[:, words]
        gamma = gamma0[d]
        # exp E[log θ_dk] = exp(ψ(γ_dk) − ψ(Σ_j γ_dj))
        exp_elog_theta = np.exp(digamma(gamma) - digamma(gamma.sum()))
        for it in range(1, max_iter + 1):
            # φ_dwk = exp E[log θ_dk] exp E[log β_kw] / Z_dw,  Z_dw = Σ_k exp E[log θ_dk] exp E[log β_kw]
            Z = exp_elog_theta @ exp_elog_beta_d
            # γ_dk = α + Σ_w n_dw φ_dwk
            new_gamma = alpha + exp_elog_theta * (exp_elog_beta_d @ (n_w / Z))
            exp_elog_theta = np.exp(digamma(new_gamma) - digamma(new_gamma.sum()))
            change = np.abs(new_gamma - gamma).mean()
            gamma = new_gamma
            if change < tol:
                break
        gammas[d], n_inner[d] = gamma, it
        # Σ_w n_dw φ_dwk at the final γ, scattered into the document's words
        Z = exp_elog_theta @ exp_elog_beta_d
        sstats[:, words] += np.outer(exp_elog_theta, n_w / Z) * exp_elog_beta_d
    return gammas, sstats, n_inner


def _non_negative(x, name):
    value = float(as_float_array(x, name))
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def _check_inputs(counts_batches, n_topics, lambda0, doc_topic_init):
    K = check_count(n_topics, "n_topics")
    lam = check_positive(lambda0, "lambda0")
    if lam.ndim != 2 or lam.shape[0] != K:
        raise ValueError(f"lambda0 must be (n_topics, V) = ({K}, V), got shape {lam.shape}")
    V = lam.shape[1]
    if isinstance(counts_batches, np.ndarray) and counts_batches.ndim == 2:
        raise TypeError("counts_batches must be a sequence of (n_b, V) minibatches, got one 2-D array; "
                        "wrap it in a list for a single minibatch")
    batches = []
    for b, counts in enumerate(counts_batches):
        c = as_float_array(counts, f"counts_batches[{b}]")
        if c.ndim != 2 or c.shape[1] != V or c.shape[0] == 0:
            raise ValueError(f"counts_batches[{b}] must be (n_b, V) = (n_b >= 1, {V}), got shape {c.shape}")
        if np.any(c < 0):
            raise ValueError(f"counts_batches[{b}] has a negative count")
        empty = np.flatnonzero(c.sum(1) == 0)
        if len(empty):
            raise ValueError(f"counts_batches[{b}] has empty documents (no words) at rows {empty.tolist()}")
        batches.append(c)
    if not batches:
        raise ValueError("counts_batches must hold at least one minibatch")
    if doc_topic_init is None:
        inits = [np.ones((len(c), K)) for c in batches]
    else:
        inits = [check_positive(g, f"doc_topic_init[{b}]") for b, g in enumerate(doc_topic_init)]
        if len(inits) != len(batches):
            raise ValueError(f"doc_topic_init must hold one array per minibatch ({len(batches)}), got {len(inits)}")
        for b, (g, c) in enumerate(zip(inits, batches)):
            if g.shape != (len(c), K):
                raise ValueError(f"doc_topic_init[{b}] must be (n_b, K) = ({len(c)}, {K}), got shape {g.shape}")
    return batches, lam, inits, K


class SklearnLDARun(NamedTuple):
    """scikit-learn's online-LDA iterates and the random initial values it drew (to feed :func:`online_lda`)."""

    #: λ, (n_batches + 1, K, V): its initial ``components_`` first, then ``components_`` after each partial_fit
    topic_word: np.ndarray
    #: the initial γ it drew for each minibatch, a tuple of (n_b, K) arrays
    doc_topic_init: tuple


def sklearn_online_lda_iterates(counts_batches, n_topics, *, doc_topic_prior, topic_word_prior, learning_offset,
                                learning_decay, total_docs, max_doc_update_iter=100, mean_change_tol=1e-3,
                                random_state=0) -> SklearnLDARun:
    r"""scikit-learn's ``LatentDirichletAllocation(learning_method="online")``, one ``partial_fit`` per minibatch.

    ``batch_size`` is the largest minibatch, so each ``partial_fit`` is exactly one online step, with
    ``n_batch_iter_`` = t = 1, 2, … in :math:`\rho_t = (\tau_0 + t)^{-\kappa}`.  scikit-learn cannot be given an
    initial λ, and it initialises every document's γ at random in training; both come from
    ``numpy.random.RandomState(random_state)`` in a fixed order (``_init_latent_vars`` draws λ₀ =
    ``gamma(100, 1/100, (K, V))``, then ``_update_doc_distribution`` draws ``gamma(100, 1/100, (n_b, K))`` per
    minibatch, with one job), which this function replays with its own generator and returns as
    ``topic_word[0]`` and ``doc_topic_init``: passed to :func:`online_lda` as ``lambda0`` and
    ``doc_topic_init``, the two runs start from the same values.  A wrong replay shows as O(1) differences.

    Note scikit-learn's digamma (Bernardo's AS 103: recurrence to x ≥ 6, asymptotic series to x⁻⁶) is accurate
    to ~2.4e-9 absolute, not to machine precision: the two runs differ at that level.

    scikit-learn is a test dependency of blrkit, not a runtime one: it is imported here, on call.
    """
    from sklearn.decomposition import LatentDirichletAllocation

    batches = [np.array(c, dtype=float) for c in counts_batches]
    V = batches[0].shape[1]
    replay = np.random.RandomState(random_state)
    lambda0 = replay.gamma(100.0, 1.0 / 100.0, (n_topics, V))
    doc_topic_init = tuple(replay.gamma(100.0, 1.0 / 100.0, (len(c), n_topics)) for c in batches)
    model = LatentDirichletAllocation(
        n_components=n_topics, doc_topic_prior=doc_topic_prior, topic_word_prior=topic_word_prior,
        learning_method="online", learning_offset=learning_offset, learning_decay=learning_decay,
        total_samples=total_docs, batch_size=max(len(c) for c in batches), max_doc_update_iter=max_doc_update_iter,
        mean_change_tol=mean_change_tol, evaluate_every=-1, n_jobs=None, random_state=random_state)
    topic_word = [lambda0]
    for counts in batches:
        model.partial_fit(counts)
        topic_word.append(model.components_.copy())
    return SklearnLDARun(np.array(topic_word), doc_topic_init)
