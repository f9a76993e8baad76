"""What the first-order and binary drivers share to compute with the namespace of their arrays.

A driver finds ``xp`` once at its entry (:func:`blrkit._array_api.array_namespace` over its array
arguments); these helpers then put the values it checked on the host (hyperparameters, minibatch
indices, broadcast starts) beside the user's arrays. For NumPy each returns its input unchanged.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_namespace, device, on_device


def scalar_or_array(x, xp, like):
    """A checked hyperparameter: a Python float when it is one number (the emitted steps keep scalar
    arithmetic scalar, and a float mixes with any library's arrays), else ``xp``'s float64 array
    on ``like``'s device."""
    if getattr(x, "ndim", 0) == 0:
        return float(x)
    return on_device(xp, x, like) if array_namespace(x=x) is np else x


def indices_on(xp, idx: np.ndarray, like):
    """Minibatch indices drawn on the host as ``xp``'s integer array on ``like``'s device, so that a user's
    ``grad(θ, idx)`` indexes its own data with its own library's indices."""
    if xp is np:
        return idx
    return xp.asarray(idx, device=device(like))


def on_namespace(xp, a, like):
    """A checked array (a start broadcast to the batch, a prior) as ``xp``'s float64 array on ``like``'s device,
    a new array whatever library ``a`` came from. NumPy: ``a`` itself."""
    if xp is np:
        return a
    if array_namespace(a=a) is np:
        return on_device(xp, np.array(a, dtype=float), like)  # a copy: the library may share a NumPy buffer
    return xp.asarray(a, dtype=xp.float64, copy=True)


__all__ = ["indices_on", "on_namespace", "scalar_or_array"]
