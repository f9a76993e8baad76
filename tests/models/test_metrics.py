"""Metrics of a predictive distribution against small cases computed by hand, and the Bayesian model
average against a loop."""

import numpy as np
import pytest

from blrkit.models import (
    MLP,
    accuracy,
    bayesian_model_average,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
    sample_diagonal_gaussian,
)

#: Hand-computed values below are short decimal sums: float rounding only.
EXACT = 1e-12

#: Four examples, three classes. Confidences 0.4, 0.55, 0.8, 0.95; predictions 2, 0, 0, 1; right,
#: wrong, right, right. Four bins of width 1/4: (1/4, 1/2] holds 0.4 (acc 1), (1/2, 3/4] holds 0.55
#: (acc 0), (3/4, 1] holds 0.8 and 0.95 (acc 1, conf 0.875). ECE = ¼·0.6 + ¼·0.55 + ½·0.125 = 0.35.
PROBS = np.array([[0.3, 0.3, 0.4], [0.55, 0.45, 0.0], [0.8, 0.1, 0.1], [0.05, 0.95, 0.0]])
Y = np.array([2, 1, 0, 1])


def test_ece_by_hand():
    assert abs(expected_calibration_error(PROBS, Y, n_bins=4) - 0.35) < EXACT
    r = reliability_bins(PROBS, Y, n_bins=4)
    np.testing.assert_array_equal(r.counts, [0, 1, 1, 2])
    np.testing.assert_allclose(r.confidence[1:], [0.4, 0.55, 0.875], rtol=EXACT)
    np.testing.assert_allclose(r.accuracy[1:], [1.0, 0.0, 1.0], rtol=EXACT)
    assert np.isnan(r.accuracy[0]) and np.isnan(r.confidence[0])
    # one bin: |mean accuracy − mean confidence| = |0.75 − 0.675|
    assert abs(expected_calibration_error(PROBS, Y, n_bins=1) - 0.075) < EXACT


def test_confidence_on_a_bin_edge_goes_to_the_lower_bin():
    r = reliability_bins(np.array([[0.5, 0.5], [0.75, 0.25]]), np.array([0, 0]), n_bins=4)
    np.testing.assert_array_equal(r.counts, [0, 1, 1, 0])


def test_accuracy_and_nll_by_hand():
    assert abs(accuracy(PROBS, Y) - 0.75) < EXACT
    want = -(np.log(0.4) + np.log(0.45) + np.log(0.8) + np.log(0.95)) / 4
    assert abs(negative_log_likelihood(PROBS, Y) - want) < EXACT
    assert negative_log_likelihood([[1.0, 0.0]], [1]) == np.inf


def test_metrics_broadcast_over_leading_axes():
    P = np.stack([PROBS, PROBS[:, [1, 0, 2]]])
    for f in (accuracy, negative_log_likelihood, expected_calibration_error):
        out = f(P, Y)
        assert out.shape == (2,)
        np.testing.assert_allclose(out, [f(P[0], Y), f(P[1], Y)], rtol=EXACT)


def test_bayesian_model_average_is_the_mean_of_the_softmaxes(rng):
    net = MLP((2, 4, 3))
    thetas = net.init(rng, batch=(5,))
    X = rng.standard_normal((6, 2))
    loop = sum(net.predict_proba(t, X) for t in thetas) / 5
    np.testing.assert_allclose(bayesian_model_average(net, thetas, X), loop, rtol=EXACT)


def test_diagonal_gaussian_samples_have_the_right_moments():
    """10⁵ draws: the sample mean is within 5 standard errors (σ/√n) of m, the variance within 5 of
    its own standard error (σ²√(2/n))."""
    m, s = np.array([1.0, -2.0]), np.array([4.0, 0.25])
    th = sample_diagonal_gaussian(m, s, 100_000, np.random.default_rng(0))
    n, var = len(th), 1 / s
    assert np.all(np.abs(th.mean(0) - m) < 5 * np.sqrt(var / n))
    assert np.all(np.abs(th.var(0) - var) < 5 * var * np.sqrt(2 / n))


@pytest.mark.parametrize("probs, y, says", [
    ([[0.5, 0.6]], [0], "probs must be probabilities"),
    ([[-0.1, 1.1]], [0], "probs must be probabilities"),
    ([[0.5, 0.5]], [2], "labels in 0..1"),
    ([[0.5, 0.5]], [0.0], "y must be integer labels"),
    ([[0.5, 0.5]], [0, 1], "y must be integer labels of shape"),
    ([[np.nan, 0.5]], [0], "probs must be finite"),
])
def test_bad_input(probs, y, says):
    for f in (accuracy, negative_log_likelihood, expected_calibration_error):
        with pytest.raises(ValueError, match=says):
            f(probs, y)


def test_bad_bins_samples_and_thetas():
    with pytest.raises(ValueError, match="n_bins must be an integer"):
        expected_calibration_error(PROBS, Y, n_bins=0)
    with pytest.raises(ValueError, match="precision"):
        sample_diagonal_gaussian([0.0], [0.0], 1, 0)
    with pytest.raises(ValueError, match="leading samples axis"):
        bayesian_model_average(MLP((1, 2, 2)), np.zeros(10), [[0.0]])
