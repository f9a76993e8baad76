"""Two small classification data sets for the networks of :mod:`blrkit.models`, from scikit-learn.

scikit-learn is imported inside each function (it is not a runtime dependency of blrkit; it comes
with the ``test`` and ``notebooks`` extras). Each returns a :class:`Dataset` with a stratified
train/test split, inputs as float arrays and labels as integers 0..K−1.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from blrkit._validation import check_count, check_scalar

__all__ = ["Dataset", "digits", "moons"]


class Dataset(NamedTuple):
    """Training and test inputs ``(n, d)`` and labels ``(n,)``, and the number of classes K."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int


#: The largest seed scikit-learn's ``random_state`` takes.
MAX_SEED = 2**32 - 1


def _split(X, y, test_fraction, seed):
    test_fraction = check_scalar(test_fraction, "test_fraction", low=0.0, high=1.0)
    seed = check_count(seed, "seed", 0, MAX_SEED)
    from sklearn.model_selection import train_test_split

    # a stratified split puts at least one example of each class on either side (scikit-learn's test side holds
    # ceil(fraction · n) examples): a fraction that leaves a side fewer examples than classes is refused here
    n, classes = len(y), len(np.unique(y))
    n_test = math.ceil(test_fraction * n)
    if min(n_test, n - n_test) < classes:
        raise ValueError(f"test_fraction = {test_fraction:g} leaves {n_test} test and {n - n_test} training examples "
                         f"of {n}: a stratified split needs at least one of each of the {classes} classes on each side")
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=test_fraction, random_state=seed, stratify=y)
    return Dataset(Xa.astype(float), ya.astype(np.int64), Xb.astype(float), yb.astype(np.int64), int(y.max()) + 1)


def digits(*, test_fraction=0.3, seed=0) -> Dataset:
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes), pixels scaled from
    0..16 to [0, 1]: 64 inputs.

    >>> d = digits()
    >>> d.X_train.shape, d.X_test.shape, d.n_classes
    ((1257, 64), (540, 64), 10)
    """
    X, y = _load_digits()
    return _split(X / 16.0, y, test_fraction, seed)


@lru_cache(maxsize=1)
def _load_digits():
    """scikit-learn's digits, read once (its CSV takes ~0.3 s), as read-only arrays."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def moons(n_samples=400, *, noise=0.2, test_fraction=0.5, seed=0) -> Dataset:
    """scikit-learn's two interleaving half-moons in 2-D, 2 classes, with Gaussian noise of scale ``noise``.

    >>> m = moons(100)
    >>> m.X_train.shape, m.n_classes
    ((50, 2), 2)
    """
    n_samples = check_count(n_samples, "n_samples", 4)
    noise = check_scalar(noise, "noise", low=0.0, closed_low=True)
    test_fraction = check_scalar(test_fraction, "test_fraction", low=0.0, high=1.0)
    seed = check_count(seed, "seed", 0, MAX_SEED)
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    if not np.isfinite(X).all():
        raise ValueError(f"noise = {noise:g} overflows the inputs (Gaussian noise of that scale is not finite)")
    return _split(X, y, test_fraction, seed)
