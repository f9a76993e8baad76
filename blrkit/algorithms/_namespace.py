"""What the first-order and binary drivers share to compute with the namespace of their arrays.

A driver finds ``xp`` once at its entry (:func:`blrkit._array_api.array_namespace` over its array
arguments); these helpers then put the values it checked on the host (hyperparameters, minibatch
indices, broadcast starts) beside the user's arrays. For NumPy each returns its input unchanged.
"""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_library, array_namespace, device, float_dtype, on_device


def namespace_and_reference(**named):
    """The namespace of the array arguments in ``named`` (:func:`~blrkit._array_api.array_namespace`) and one of
    its arrays, to convert the other arguments (numbers, lists: NumPy after the checks) beside it with
    :func:`~blrkit._array_api.on_device`; the reference is None for NumPy.

    >>> import numpy as np
    >>> xp, like = namespace_and_reference(X=[[1.0]], y=np.ones(1))
    >>> xp is np, like is None
    (True, True)
    """
    xp = array_namespace(**named)
    if xp is np:  # NumPy: no reference needed (and no scan of the arguments on the hot path)
        return xp, None
    return xp, next(v for v in named.values() if array_library(v) not in (None, "numpy"))


def scalar_or_array(x, xp, like):
    """A checked hyperparameter (a number, a list or an array) to hand to an emitted step: a Python float when it
    is one number, in any library (the step's scalar arithmetic stays a float's, the fastest), else the array,
    for another library as its float64 array on ``like``'s device."""
    if not hasattr(x, "ndim"):
        x = np.asarray(x, dtype=float)  # a number or a list
    if x.ndim == 0:
        return float(x)
    if xp is np:
        return x
    return on_device(xp, x, like) if array_namespace(x=x) is np else xp.asarray(x, dtype=xp.float64)


def indices_on(xp, idx: np.ndarray, like):
    """Minibatch indices drawn on the host as ``xp``'s integer array on ``like``'s device, so that a user's
    ``grad(θ, idx)`` indexes its own data with its own library's indices."""
    if xp is np:
        return idx
    return xp.asarray(idx, dtype=xp.int64, device=device(like))


def check_returned(out, name: str, arg, arg_name: str = "θ") -> None:
    """A user's callable must answer in the library of its argument: raise ``TypeError`` naming ``name`` if
    ``out`` is an array of another library (a list or a number is taken as NumPy's, for NumPy arguments).

    >>> check_returned(np.ones(2), "grad", np.zeros(2))
    """
    lib, expected = array_library(out), array_library(arg)
    if lib is not None and lib != expected:
        kind = {"numpy": "NumPy"}
        raise TypeError(f"{name} returned a {kind.get(lib, lib)} array ({type(out).__name__}) for {arg_name} from "
                        f"{kind.get(expected, expected)}: return arrays of the library of its argument")


def recorder(xp, first, n_steps: int):
    """``(store, stacked)`` for the iterates of a run: ``store(t, a)`` keeps iterate ``t`` (1 .. n_steps, in order),
    ``stacked()`` returns all of them with ``first`` at index 0, ``(n_steps + 1, *first.shape)``.

    NumPy's are written into one preallocated array of ``first``'s floating dtype (float64 for integers), as the drivers always did: a list stacked at the
    end copies every iterate once more into fresh memory (on benchmarks/bench_deep_learning.py's Adam step, a
    10,000-parameter network, the list version measured 1.2-1.45x the hand-written step, against 1.0-1.3x).
    Another library's are kept in a list and stacked once (JAX arrays have no item assignment).
    """
    if xp is np:
        rows = np.empty((n_steps + 1,) + tuple(first.shape), dtype=first.dtype if first.dtype.kind == "f" else float)
        rows[0] = first

        def store(t, a):
            rows[t] = a
        return store, lambda: rows
    items = [first]

    def store(t, a):
        items.append(a)
    return store, lambda: xp.stack(items)


def on_namespace(xp, a, like):
    """A checked array (a start broadcast to the batch, a prior) as ``xp``'s float64 array on ``like``'s device,
    a new array whatever library ``a`` came from. NumPy: ``a`` itself."""
    if xp is np:
        return a
    if array_namespace(a=a) is np:
        return on_device(xp, np.array(a, dtype=float), like)  # a copy: the library may share a NumPy buffer
    return xp.asarray(a, dtype=xp.float64, copy=True)


__all__ = ["as_dtype", "check_returned", "floating_dtype", "indices_on", "namespace_and_reference", "on_namespace", "recorder",
           "scalar_or_array"]


def floating_dtype(xp, **named):
    """The floating dtype a driver computes in, read from its array arguments ``named`` (issue #29's policy): the
    emitted steps' own rule, :func:`blrkit._array_api.float_dtype`, over the arguments of a real floating dtype.

    float32 when every floating-point array among them is float32, float64 when one is float64 (the wider
    wins); integers, booleans, lists, Python numbers and None do not choose, and alone they give float64.
    float16 and bfloat16 are refused (``ValueError`` naming the argument): a step's sums and solves lose their
    meaning in 11 or 8 bits of mantissa. Complex and non-numeric arguments are left to the driver's own checks,
    which refuse them with a ``TypeError`` naming them.

    >>> import numpy as np
    >>> floating_dtype(np, m0=np.zeros(2, dtype=np.float32), rho=0.1).__name__
    'float32'
    >>> floating_dtype(np, m0=[0, 1], precision0=np.eye(2, dtype=np.float32)).__name__
    'float32'
    >>> floating_dtype(np, m0=np.zeros(2, dtype=np.float32), precision0=np.eye(2)).__name__
    'float64'
    >>> floating_dtype(np, m0=np.zeros(2, dtype=np.float16))
    Traceback (most recent call last):
    ...
    ValueError: m0 has dtype float16: blrkit computes in float32 or float64; convert m0 (e.g. m0.astype(numpy.float32))
    """
    return float_dtype(xp, **{name: v for name, v in named.items() if _real_floating(xp, v)})


def _real_floating(xp, v) -> bool:
    if isinstance(v, (np.ndarray, np.generic)):
        return v.dtype.kind == "f"
    if not hasattr(v, "shape"):
        return False
    try:
        return bool(array_namespace(v=v).isdtype(v.dtype, "real floating"))
    except (TypeError, ValueError, AttributeError):
        text = str(v.dtype)
        return "float" in text and "complex" not in text


def as_dtype(xp, dtype, a):
    """``a`` in ``dtype`` (None and arrays of that dtype unchanged): the outputs of a run keep its inputs' dtype.

    >>> as_dtype(np, np.float32, np.ones(2)).dtype
    dtype('float32')
    """
    if a is None or a.dtype == dtype:
        return a
    return a.astype(dtype) if xp is np else xp.astype(a, dtype)
