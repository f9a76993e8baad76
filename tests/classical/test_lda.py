"""The hand-written online variational Bayes for LDA (blrkit.classical.lda) against scikit-learn's
LatentDirichletAllocation given the same minibatches, initial values and step sizes, and closed forms.
Tolerances stated where used."""

import numpy as np
import pytest
from scipy.special import digamma

from algorithms.tolerances import SAME_ARITHMETIC, assert_close
from blrkit.classical.lda import lda_elbo, online_lda, sklearn_online_lda_iterates

#: Ours against scikit-learn.  Both stop each document's inner (γ, φ) loop by the same rule (mean |Δγ| below
#: ``mean_change_tol``) from the same initial γ, so they run the same number of inner iterations and the
#: inner-loop tolerance does not enter the difference; what does is scikit-learn's digamma (Bernardo's AS 103,
#: asymptotic series cut at x⁻⁶, ~2.4e-9 absolute error measured against scipy), entering every E[log β] and
#: E[log θ], i.e. ~2.4e-9 relative in every φ, carried from minibatch to minibatch.  Measured max relative
#: difference in λ (against max|λ_t| per iterate): 8.1e-9 and 6.9e-9 in the two tests below, ≤ 1.2e-8 over 20
#: seeds of the first, and the same (1.1e-9) for mean_change_tol 1e-3, 1e-5 and 1e-10 on one larger corpus;
#: 1e-7 leaves ~8×.
#: A document whose mean change landed within ~1e-9 of the threshold would stop one iteration apart in the
#: two runs; its γ would then differ by up to ~K · mean_change_tol and λ_t by up to ρ_t (D/|B|) K ·
#: mean_change_tol absolute, the inner-loop bound; that does not happen in these seeded runs (it would fail
#: here, not pass silently).
LDA_VS_SKLEARN = 1e-7


def _corpus(rng, n_docs=120, V=25, K=3):
    """Documents from the LDA generative model: sparse topics, sparse proportions, ~30 words each."""
    topics = rng.dirichlet(np.full(V, 0.1), K)
    proportions = rng.dirichlet(np.full(K, 0.3), n_docs)
    lengths = rng.poisson(30, n_docs) + 1
    return np.array([rng.multinomial(n, p @ topics) for n, p in zip(lengths, proportions)], dtype=float)


SETTINGS = dict(doc_topic_prior=0.3, topic_word_prior=0.1, learning_offset=5.0, learning_decay=0.7)


def _compare(batches, K, total_docs, **kw):
    sk = sklearn_online_lda_iterates(batches, K, total_docs=total_docs, random_state=3, **SETTINGS, **kw)
    ours = online_lda(batches, K, lambda0=sk.topic_word[0], doc_topic_init=sk.doc_topic_init,
                      total_docs=total_docs, **SETTINGS, **kw)
    assert ours.topic_word.shape == sk.topic_word.shape == (len(batches) + 1, K, batches[0].shape[1])
    for t in range(len(batches) + 1):
        assert_close(ours.topic_word[t], sk.topic_word[t], LDA_VS_SKLEARN)
    # the run moved λ far beyond the tolerance
    assert np.abs(ours.topic_word[-1] - ours.topic_word[0]).max() > 10.0
    return ours


def test_equals_sklearn_at_its_defaults(rng):
    """scikit-learn's inner-loop defaults (mean_change_tol 1e-3, at most 100 iterations), 8 minibatches of 15."""
    X = _corpus(rng)
    _compare([X[i:i + 15] for i in range(0, 120, 15)], 3, total_docs=1000)


def test_equals_sklearn_at_the_papers_inner_tolerance_with_uneven_minibatches(rng):
    """Hoffman et al.'s 1e-5; minibatches of 25, 25, 25, 25, 20 so D/|B_t| changes at the last one."""
    X = _corpus(rng)
    ours = _compare([X[i:i + 25] for i in range(0, 120, 25)], 3, total_docs=120, mean_change_tol=1e-5,
                    max_doc_update_iter=300)
    assert [len(g) for g in ours.doc_topic] == [25, 25, 25, 25, 20]


def test_learning_rates_are_robbins_monro_from_t_equal_one(rng):
    X = _corpus(rng, n_docs=12)
    out = online_lda([X[:4], X[4:8], X[8:]], 3, lambda0=np.ones((3, 25)), total_docs=12, **SETTINGS)
    np.testing.assert_allclose(out.learning_rates, (5.0 + np.arange(1, 4)) ** -0.7, rtol=SAME_ARITHMETIC)


def test_full_batch_with_unit_step_is_sklearns_batch_variational_bayes(rng):
    """κ = 0 gives ρ = 1, and one minibatch holding the corpus (D = |B|) makes λ̃ = η + Σ_d n_dw φ_dwk: one
    iteration of batch VB, checked against scikit-learn's learning_method="batch" with max_iter=1.  Its draws:
    λ₀ then the γ of every document, the replay of sklearn_online_lda_iterates; same tolerance as online."""
    from sklearn.decomposition import LatentDirichletAllocation

    X = _corpus(rng, n_docs=40)
    replay = sklearn_online_lda_iterates([X], 3, total_docs=40, random_state=5, **SETTINGS)
    lda = LatentDirichletAllocation(n_components=3, doc_topic_prior=0.3, topic_word_prior=0.1,
                                    learning_method="batch", max_iter=1, evaluate_every=-1, random_state=5).fit(X)
    ours = online_lda([X], 3, lambda0=replay.topic_word[0], doc_topic_init=replay.doc_topic_init, total_docs=40,
                      doc_topic_prior=0.3, topic_word_prior=0.1, learning_offset=0.0, learning_decay=0.0)
    assert ours.learning_rates.tolist() == [1.0]
    assert_close(ours.topic_word[1], lda.components_, LDA_VS_SKLEARN)


def test_local_parameters_satisfy_the_fixed_point_equations(rng):
    """At a tight inner tolerance, every document's γ solves γ_k = α + Σ_w n_w φ_wk with φ from γ itself
    (Hoffman et al. 2010, Eq. 5), recomputed here with scipy's digamma.  The residual of a contraction stopped
    at mean |Δγ| < 1e-12 is ~1e-12 per entry times the counts' scale (~30): 1e-9 absolute."""
    X = _corpus(rng, n_docs=10)
    lam0 = rng.gamma(5.0, 1.0, (3, 25))
    out = online_lda([X], 3, lambda0=lam0, total_docs=10, mean_change_tol=1e-12, max_doc_update_iter=5000,
                     **SETTINGS)
    elog_beta = digamma(lam0) - digamma(lam0.sum(1, keepdims=True))
    for n, g in zip(X, out.doc_topic[0]):
        log_phi = digamma(g)[:, None] + elog_beta  # (K, V), up to the per-word normaliser
        phi = np.exp(log_phi - log_phi.max(0))
        phi /= phi.sum(0)
        np.testing.assert_allclose(g, 0.3 + phi @ n, rtol=0, atol=1e-9)
    assert max(it.max() for it in out.inner_iterations) < 5000


def test_elbo_equals_sklearns_score_and_its_subsampled_bound(rng):
    """At a λ fitted by scikit-learn: its ``score`` (γ by its own E-step from γ = 1, our online_lda's default
    start, φ optimised out; measured 3.4e-11 relative) and its minibatch estimate of the corpus bound
    (``_approx_bound(sub_sampling=True)``, private, given our γ; measured 1.9e-12 relative).  Both through
    scikit-learn's digamma: LDA_VS_SKLEARN."""
    from sklearn.decomposition import LatentDirichletAllocation

    X = _corpus(rng, n_docs=60)
    model = LatentDirichletAllocation(n_components=3, doc_topic_prior=0.3, topic_word_prior=0.1,
                                      learning_method="online", total_samples=600, evaluate_every=-1,
                                      random_state=0).partial_fit(X[:30])
    lam = model.components_
    gamma = online_lda([X[30:]], 3, lambda0=lam, total_docs=600, **SETTINGS).doc_topic[0]
    priors = dict(doc_topic_prior=0.3, topic_word_prior=0.1)
    assert_close(lda_elbo(X[30:], lam, gamma, **priors), model.score(X[30:]), LDA_VS_SKLEARN)
    assert_close(lda_elbo(X[30:], lam, gamma, **priors, total_docs=600),
                 model._approx_bound(X[30:], gamma, sub_sampling=True), LDA_VS_SKLEARN)


def test_inner_loop_never_decreases_the_elbo(rng):
    """Each inner iteration is coordinate ascent (φ then γ), so the bound with φ optimal given γ cannot fall
    as the cap on inner iterations grows (up to rounding of a sum of ~1e3 terms: 1e-12 relative)."""
    X, lam = _corpus(rng, n_docs=8), rng.gamma(5.0, 1.0, (3, 25))
    bounds = [lda_elbo(X, lam, online_lda([X], 3, lambda0=lam, total_docs=8, max_doc_update_iter=n,
                                          mean_change_tol=1e-14, **SETTINGS).doc_topic[0],
                       doc_topic_prior=0.3, topic_word_prior=0.1) for n in range(1, 30)]
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert bounds[-1] > bounds[0] + 1.0


def test_inputs_are_not_mutated(rng):
    X = _corpus(rng, n_docs=10)
    lam0, g0 = np.ones((3, 25)), [np.ones((5, 3)), np.ones((5, 3))]
    batches = [X[:5], X[5:]]
    copies = [a.copy() for a in (*batches, lam0, *g0)]
    online_lda(batches, 3, lambda0=lam0, doc_topic_init=g0, total_docs=10, **SETTINGS)
    for a, c in zip((*batches, lam0, *g0), copies):
        np.testing.assert_array_equal(a, c)


def _with_row(X, row):
    Y = X.copy()
    Y[1] = row
    return Y


@pytest.mark.parametrize("make, name", [
    (lambda X: dict(counts_batches=[_with_row(X, 0.0)]), r"counts_batches\[0\] has empty documents"),
    (lambda X: dict(counts_batches=[X, _with_row(X, -1.0)]), r"counts_batches\[1\] has a negative count"),
    (lambda X: dict(counts_batches=[X[:, :4]]), r"counts_batches\[0\]"),
    (lambda X: dict(counts_batches=[]), "counts_batches"),
    (lambda X: dict(lambda0=np.ones((2, 5))), "lambda0"),
    (lambda X: dict(lambda0=np.zeros((3, 5))), "lambda0"),
    (lambda X: dict(n_topics=0), "n_topics"),
    (lambda X: dict(doc_topic_init=[np.ones((3, 3))]), r"doc_topic_init\[0\]"),
    (lambda X: dict(doc_topic_prior=0.0), "doc_topic_prior"),
    (lambda X: dict(learning_decay=-1.0), "learning_decay"),
    (lambda X: dict(total_docs=0), "total_docs"),
    (lambda X: dict(mean_change_tol=0.0), "mean_change_tol"),
])
def test_bad_input_names_the_argument(make, name):
    X = np.arange(20.0).reshape(4, 5)
    args = dict(counts_batches=[X], n_topics=3, lambda0=np.ones((3, 5)), total_docs=8, **SETTINGS)
    args.update(make(X))
    with pytest.raises(ValueError, match=name):
        online_lda(**args)


def test_elbo_bad_input_names_the_argument():
    lam, gam = np.ones((2, 3)), np.ones((1, 2))
    with pytest.raises(ValueError, match="doc_topic"):
        lda_elbo([[1, 0, 2]], lam, np.ones((2, 2)), doc_topic_prior=1.0, topic_word_prior=1.0)
    with pytest.raises(ValueError, match="topic_word"):
        lda_elbo([[1, 0, 2]], -lam, gam, doc_topic_prior=1.0, topic_word_prior=1.0)
    with pytest.raises(ValueError, match="total_docs"):
        lda_elbo([[1, 0, 2]], lam, gam, doc_topic_prior=1.0, topic_word_prior=1.0, total_docs=0)
