"""The binary-weight network (blrkit.models.binary_mlp): its forward pass against one written out here with
explicit matrices, its gradients against central finite differences, broadcasting over samples, bad input;
the Bernoulli sampler and the model average over binary weights (blrkit.models.predictive)."""

import numpy as np
import pytest

from blrkit.models import BinaryMLP, binary_model_average, sample_binary_weights

rng = np.random.default_rng(0)
SIZES, SCALES = (5, 4, 3), (0.5, 1.5)
BNET = BinaryMLP(SIZES, scales=SCALES)
X = rng.normal(size=(7, 5))
Y = np.array([0, 1, 2, 2, 1, 0, 1])


def by_hand(w, b, X):
    """softmax(tanh(X c₁W₁ + b₁) c₂W₂ + b₂), with W₁ (5, 4), W₂ (4, 3) read row-major from w, b = (b₁, b₂)."""
    W1, W2 = w[:20].reshape(5, 4), w[20:].reshape(4, 3)
    z = np.tanh(X @ (SCALES[0] * W1) + b[:4]) @ (SCALES[1] * W2) + b[4:]
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_forward_is_the_network_written_out():
    """Same arithmetic in another order: 1e-14 (rounding of a few dozen products)."""
    assert (BNET.n_weights, BNET.n_biases) == (32, 7)
    w, b = np.where(rng.uniform(size=32) < 0.5, -1.0, 1.0), rng.normal(size=7)
    np.testing.assert_allclose(BNET.predict_proba(w, b, X), by_hand(w, b, X), rtol=1e-14, atol=1e-14)


def test_default_scales_are_one_over_root_fan_in():
    assert BinaryMLP((64, 16, 10)).scales == pytest.approx((1 / 8, 1 / 4), rel=1e-15)


def test_gradients_match_central_differences_at_relaxed_weights():
    """Central differences of the mean cross-entropy with step 1e-6: truncation ~1e-12 and rounding
    ~1e-16/1e-6 = 1e-10 per entry, so atol 1e-8 (entries are of order 0.1)."""
    w, b = rng.uniform(-1, 1, size=32), rng.normal(size=7)
    g_w, g_b = BNET.gradients(w, b, X, Y)
    h = 1e-6
    fd_w = [(BNET.loss(w + h * e, b, X, Y) - BNET.loss(w - h * e, b, X, Y)) / (2 * h) for e in np.eye(32)]
    fd_b = [(BNET.loss(w, b + h * e, X, Y) - BNET.loss(w, b - h * e, X, Y)) / (2 * h) for e in np.eye(7)]
    np.testing.assert_allclose(g_w, fd_w, atol=1e-8)
    np.testing.assert_allclose(g_b, fd_b, atol=1e-8)


def test_leading_axes_are_samples_with_shared_biases():
    """Three weight vectors, one set of biases: each row equals its own evaluation (bit for bit up to BLAS
    blocking, 1e-14)."""
    ws, b = rng.uniform(-1, 1, size=(3, 32)), rng.normal(size=7)
    g_w, g_b = BNET.gradients(ws, b, X, Y)
    assert g_w.shape == (3, 32) and g_b.shape == (3, 7)
    for k in range(3):
        gw, gb = BNET.gradients(ws[k], b, X, Y)
        np.testing.assert_allclose(g_w[k], gw, rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(g_b[k], gb, rtol=1e-14, atol=1e-14)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="w must have P = 32"):
        BNET.predict_proba(np.ones(31), np.zeros(7), X)
    with pytest.raises(ValueError, match="b must have B = 7"):
        BNET.predict_proba(np.ones(32), np.zeros(6), X)
    with pytest.raises(ValueError, match="scales"):
        BinaryMLP(SIZES, scales=(1.0,))
    with pytest.raises(ValueError, match="scales"):
        BinaryMLP(SIZES, scales=(1.0, 0.0))
    with pytest.raises(ValueError, match="sizes"):
        BinaryMLP((5, 3))


def test_binary_samples_have_the_bernoulli_frequencies():
    """20,000 draws per weight: the frequency of +1 is within 5 binomial standard deviations of σ(2λ)."""
    lam = np.array([-2.0, -0.3, 0.0, 0.4, 3.0])
    before = lam.copy()
    ws = sample_binary_weights(lam, 20_000, 1)
    assert set(np.unique(ws)) <= {-1.0, 1.0}
    p = 1 / (1 + np.exp(-2 * lam))
    assert np.all(np.abs((ws > 0).mean(0) - p) < 5 * np.sqrt(p * (1 - p) / 20_000))
    np.testing.assert_array_equal(lam, before)


def test_model_average_is_the_mean_over_its_samples():
    """The average over S = 9 samples, replayed from the same seed and evaluated one at a time by the
    written-out network: equal to rounding (1e-14); each probability lies between the samples' extremes."""
    lam, b = rng.normal(size=32), rng.normal(size=7)
    avg = binary_model_average(BNET, lam, b, X, 9, 4)
    each = np.array([by_hand(w, b, X) for w in sample_binary_weights(lam, 9, 4)])
    np.testing.assert_allclose(avg, each.mean(0), rtol=1e-14, atol=1e-14)
    assert np.all(avg >= each.min(0) - 1e-15) and np.all(avg <= each.max(0) + 1e-15)
    assert len({w.tobytes() for w in sample_binary_weights(lam, 9, 4)}) > 1     # a real average, not one network
