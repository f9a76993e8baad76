"""STE against BayesBiNN on a binary-weight network (blrkit.models.binary_comparison): both learn the digits
(a small subset, few steps), they see the same minibatches, and bad input.

Which method is better calibrated is *not* asserted: measured on the full digits split over five seeds
(benchmarks/compare_binary.py), STE's sign network is both more accurate and better calibrated than BayesBiNN's
model average in this small-data setting (ECE 0.025 against 0.21; the average is underconfident).
"""

import numpy as np
import pytest

from blrkit.models import BinaryMLP, digits
from blrkit.models.binary_comparison import BinarySettings, compare_binary, train_binary

# few steps, so larger steps than the defaults (which are for 3,000 steps on the full training set)
SETTINGS = BinarySettings(n_steps=300, batch_size=32, n_bma=16, ste_lr=0.03, bayesbinn_lr=3e-3)


@pytest.fixture(scope="module")
def data():
    d = digits(test_fraction=0.5, seed=0)
    return d.X_train[:400], d.y_train[:400], d.X_test[:300], d.y_test[:300]


def test_both_learn_the_digits_well_above_chance(data):
    """400 images, 300 steps of 32, a 64-32-10 network: chance is 10 %; every predictive must pass 50 % on 300
    test images (the least of them measured 70 % over seeds 0-4, BayesBiNN's sign network).

    The floor is not derived from the methods (no closed form for a binary network's accuracy after 300
    steps); it certifies learning: a predictor at chance passes it with probability
    P(Binomial(300, 0.1) ≥ 151) = 1.6e-69, and it sits 7.6 binomial standard errors (√(0.7·0.3/300)) below
    the least measured accuracy."""
    res = compare_binary(BinaryMLP((64, 32, 10), scales=(1 / 8, 1.0)), *data, settings=SETTINGS, rng=0)
    assert set(res) == {"ste", "bayesbinn", "bayesbinn@sign", "bayesbinn@mean"}
    for name, s in res.items():
        assert s.accuracy > 0.5, (name, s)
        assert 0 <= s.ece <= 1 and np.isfinite(s.nll), (name, s)


class _Recording(BinaryMLP):
    """The network, noting the labels of every minibatch it computes gradients on."""

    seen: list = []

    def gradients(self, w, b, X, y):
        _Recording.seen.append(y.copy())
        return super().gradients(w, b, X, y)


def test_ste_and_bayesbinn_see_the_same_minibatches(data):
    X, y = data[0], data[1]
    bnet = _Recording((64, 8, 10))
    signs = np.ones(bnet.n_weights)
    runs = []
    for name in ("ste", "bayesbinn"):
        _Recording.seen = []
        train_binary(name, bnet, X, y, signs, BinarySettings(n_steps=20, batch_size=16), rng=5)
        runs.append(np.array(_Recording.seen))
    assert runs[0].shape == (20, 16)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_unknown_method():
    with pytest.raises(ValueError, match="name must be one of"):
        train_binary("adam", BinaryMLP((2, 3, 2)), np.zeros((4, 2)), np.array([0, 1, 0, 1]), np.ones(12))
