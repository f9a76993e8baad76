"""SVI for a Gaussian mean (svi_gaussian_mean): Robbins–Monro convergence to the exact posterior, the
minibatch schedule, and bad input. Its iterates against Hoffman et al.'s update and the one-epoch exact
posterior are the `svi` row of `blrkit table`."""

import numpy as np
import pytest
from scipy.special import digamma

from algorithms.tolerances import ITERATIVE, assert_close
from blrkit.algorithms import svi_gaussian_mean

PRIOR = dict(prior_mean=0.0, prior_precision=1.0, noise_variance=2.0)


def test_converges_to_the_exact_posterior():
    """κ = 0.7: the precision is exact after any step (its statistic does not depend on the minibatch); the
    mean's average over the last 1,000 steps is within 5 standard errors of the closed form."""
    y = np.random.default_rng(3).normal(1.0, np.sqrt(2.0), size=200)
    m, S = svi_gaussian_mean(y, batch_size=20, n_steps=3000, rng=1, **PRIOR)
    S_exact = 1.0 + 200 / 2.0
    m_exact = y.sum() / 2.0 / S_exact
    np.testing.assert_allclose(S[-1], S_exact, rtol=1e-12)
    tail = m[-1000:]
    se = tail.std() / np.sqrt(1000 / 50)  # ≈ 50-step correlation at ρ_t ≈ (1 + t)^-0.7 near t = 2,500
    assert abs(tail.mean() - m_exact) < 5 * se + 1e-12


def test_full_batch_unit_step_is_exact():
    y = np.random.default_rng(0).normal(size=(3, 10))
    m, S = svi_gaussian_mean(y, batch_size=10, n_steps=1, learning_offset=0.0, learning_decay=1.0, **PRIOR)
    np.testing.assert_allclose(S[1], 1.0 + 10 / 2.0)
    np.testing.assert_allclose(m[1], y.sum(-1) / 2.0 / 6.0, rtol=1e-13)


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=11), "batch_size"), (dict(learning_decay=1.4), "learning_decay"),
    (dict(noise_variance=0.0), "noise_variance"), (dict(prior_precision=-1.0), "prior_precision"),
])
def test_bad_input_is_named(kwargs, match):
    args = dict(batch_size=2, n_steps=3, **PRIOR) | kwargs
    with pytest.raises(ValueError, match=match):
        svi_gaussian_mean(np.zeros(10), **args)


# -- latent Dirichlet allocation --------------------------------------------------------------------

def _corpus(seed=0, K=3, V=20, batches=5, size=6):
    rng = np.random.default_rng(seed)
    topics = rng.dirichlet(np.full(V, 0.3), size=K)
    out = [np.stack([rng.multinomial(25, rng.dirichlet(np.full(K, 0.5)) @ topics) for _ in range(size)]).astype(float)
           for _ in range(batches)]
    return out, rng.gamma(100.0, 0.01, size=(K, V))


LDA = dict(doc_topic_prior=0.4, topic_word_prior=0.2, total_docs=120, learning_offset=5.0, learning_decay=0.6)


def test_lda_equals_scikit_learn_online():
    """Same minibatches, λ₀ and γ starts (replayed from scikit-learn's random state), ρ_t = (τ₀ + t)^(−κ).
    1e-7: scikit-learn's digamma (AS 103) is accurate to ~2.4e-9 absolute; measured differences ~1e-8."""
    pytest.importorskip("sklearn")
    from blrkit.algorithms import svi_lda
    from blrkit.classical.lda import sklearn_online_lda_iterates

    batches, _ = _corpus()
    run = sklearn_online_lda_iterates(batches, 3, **LDA)
    res = svi_lda(batches, lambda0=run.topic_word[0], doc_topic_init=run.doc_topic_init, **LDA)
    np.testing.assert_allclose(res.topic_word, run.topic_word, rtol=1e-7)


def test_lda_equals_the_hand_written_online_vb_and_rho_one_full_batch_is_a_fixed_point():
    from blrkit.algorithms import svi_lda
    from blrkit.classical.lda import online_lda

    batches, lam0 = _corpus(seed=1)
    res = svi_lda(batches, lambda0=lam0, **LDA)
    book = online_lda(batches, 3, lambda0=lam0, **LDA)
    np.testing.assert_allclose(res.topic_word, book.topic_word, rtol=1e-12)
    # κ = 0 (ρ = 1) on the whole corpus, repeated: batch VB; its fixed point satisfies λ = η + Σ_d n_dw φ_dwk,
    # φ from the local optimum at that λ, computed here by the textbook E-step (_lda_local_statistics)
    corpus = np.concatenate(batches)
    full = svi_lda([corpus] * 200, lambda0=lam0, doc_topic_prior=0.4, topic_word_prior=0.2, total_docs=len(corpus),
                   learning_decay=0.0, mean_change_tol=1e-10, max_doc_update_iter=1000)
    lam = full.topic_word[-1]
    # ITERATIVE: the inner loop stops at a mean change of 1e-10 in γ; the outer one has contracted for 200 steps
    # (the iterates' last change is ~1e-13 relative), so the identity holds to ~1e-9 relative at most
    assert_close(lam, 0.2 + _lda_local_statistics(corpus, lam, doc_topic_prior=0.4), ITERATIVE)


def _lda_local_statistics(counts, lam, *, doc_topic_prior, tol=1e-13, max_iter=10_000):
    """Σ_d n_dw φ_dwk at the local optimum (γ, φ) given the topics' λ (Hoffman et al. 2010, Eqs. 5–6), by the
    coordinate ascent γ_dk = α + Σ_w n_dw φ_dwk, φ_dwk ∝ exp(ψ(γ_dk) − ψ(Σ_j γ_dj) + ψ(λ_kw) − ψ(Σ_v λ_kv)) run to
    a change below ``tol``: (K, V)."""
    E_log_beta = digamma(lam) - digamma(lam.sum(-1, keepdims=True))          # (K, V)
    gamma = np.ones((len(counts), lam.shape[0]))                               # (D, K)
    for _ in range(max_iter):
        E_log_theta = digamma(gamma) - digamma(gamma.sum(-1, keepdims=True))  # (D, K)
        log_phi = E_log_theta[:, :, None] + E_log_beta[None]                  # (D, K, V)
        phi = np.exp(log_phi - log_phi.max(1, keepdims=True))
        phi /= phi.sum(1, keepdims=True)
        new = doc_topic_prior + np.einsum("dw,dkw->dk", counts, phi)
        done = np.abs(new - gamma).max() < tol
        gamma = new
        if done:
            break
    return np.einsum("dw,dkw->kw", counts, phi)


@pytest.mark.parametrize("change, match", [
    (lambda b: [b[0] * -1.0], "negative count"),
    (lambda b: [np.vstack([b[0], np.zeros(b[0].shape[1])])], "empty documents"),
    (lambda b: [b[0][:, :-1]], "must be \\(n_b, V\\)"),
    (lambda b: [], "at least one minibatch"),
])
def test_lda_bad_counts(change, match):
    from blrkit.algorithms import svi_lda

    batches, lam0 = _corpus()
    with pytest.raises(ValueError, match=match):
        svi_lda(change(batches), lambda0=lam0, **LDA)


@pytest.mark.parametrize("kwargs, match", [
    (dict(doc_topic_prior=0.0), "doc_topic_prior"), (dict(topic_word_prior=-1.0), "topic_word_prior"),
    (dict(learning_decay=1.5), "learning_decay"), (dict(learning_offset=-1.0), "learning_offset"),
    (dict(total_docs=2), "total_docs"), (dict(mean_change_tol=0.0), "mean_change_tol"),
    (dict(max_doc_update_iter=0), "max_doc_update_iter"),
])
def test_lda_bad_settings(kwargs, match):
    from blrkit.algorithms import svi_lda

    batches, lam0 = _corpus()
    with pytest.raises(ValueError, match=match):
        svi_lda(batches, lambda0=lam0, **(LDA | kwargs))


def test_lda_bad_lambda_and_a_single_array_is_refused():
    from blrkit.algorithms import svi_lda

    batches, lam0 = _corpus()
    with pytest.raises(ValueError, match="lambda0"):
        svi_lda(batches, lambda0=-lam0, **LDA)
    with pytest.raises(TypeError, match="sequence of"):
        svi_lda(batches[0], lambda0=lam0, **LDA)


# -- another array library (issue #15) ------------------------------------------------------------------------

def test_on_another_array_library_equals_numpy(other_library):
    """Both drivers on the other library's arrays (the minibatches of svi_gaussian_mean drawn by the same seed on
    the host): the same result as on NumPy, in that library's arrays (tolerances in algorithms.other_library)."""
    from types import SimpleNamespace

    from algorithms.other_library import assert_same_result

    from blrkit.algorithms import svi_lda

    lib = other_library
    y = np.random.default_rng(0).normal(size=(2, 12))
    kwargs = dict(batch_size=4, n_steps=6, rng=1, **PRIOR)
    def mean_and_precision(res):
        return SimpleNamespace(means=res[0], precisions=res[1])
    fields = ("means", "precisions")
    assert_same_result(mean_and_precision(svi_gaussian_mean(lib.to(y), **kwargs)),
                       mean_and_precision(svi_gaussian_mean(y, **kwargs)), lib, fields)
    kwargs |= dict(prior_mean=np.array([0.5, -0.5]), m0=np.array([1.0, 2.0]), precision0=np.array([3.0, 4.0]))
    want = svi_gaussian_mean(y, **kwargs)
    got = svi_gaussian_mean(lib.to(y), **{k: lib.convert(v) for k, v in kwargs.items()})
    assert_same_result(mean_and_precision(got), mean_and_precision(want), lib, fields)

    counts, lam0 = _corpus(batches=2, size=4)
    want = svi_lda(counts, lambda0=lam0, **LDA)
    got = svi_lda([lib.to(c) for c in counts], lambda0=lib.to(lam0), **LDA)
    def arrays(res):  # the doc_topic tuple's arrays as fields of their own
        return SimpleNamespace(topic_word=res.topic_word, learning_rates=res.learning_rates,
                               **{f"doc_topic_{b}": g for b, g in enumerate(res.doc_topic)})
    assert_same_result(arrays(got), arrays(want), lib, ("topic_word", "learning_rates", "doc_topic_0", "doc_topic_1"))


def test_mixing_numpy_with_another_library_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    from blrkit.algorithms import svi_lda

    with pytest.raises(TypeError, match=r"^prior_mean comes from array_api_strict \(Array\) but y from NumPy"):
        svi_gaussian_mean(np.zeros(10), batch_size=2, n_steps=1, **(PRIOR | dict(prior_mean=xp.asarray(0.0))))
    counts, lam0 = _corpus(batches=2, size=4)
    with pytest.raises(TypeError, match=r"^counts_batches\[1\] comes from array_api_strict \(Array\) but lambda0 from "):
        svi_lda([counts[0], xp.asarray(counts[1])], lambda0=lam0, **LDA)
