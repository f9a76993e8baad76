"""The one check of what a user's callable returns, for every driver (and the engine's future runner).

A driver calls a user's ``grad``, ``hess``, ``grad_batch``, ``grad_sums`` or ``loss`` once per step; each answer
goes through :func:`check_output` once: the library of its argument, a real dtype (complex is refused, never
cast), exactly the documented shape (a ``(1,)`` gradient is not broadcast to D parameters), finite values, and
the sign its documentation promises (a sum of squares is ≥ 0) or a bound the step needs (Adam's and RMSprop's
v holds g², so |g| must stay below √(largest float)). Every message names the callable, the argument it was
given and the step. The checks are one pass over the output each (the finiteness test and the sign or bound
test share it when both apply): no extra pass on the hot path.

The hyperparameter validators live one layer down (:mod:`blrkit._validation`: :func:`check_scalar` for a
documented scalar, :func:`check_count` for an integer with its range); they are re-exported here so that a
runner imports one module (the seed's check, ``check_rng``, stays in :mod:`blrkit.algorithms._common`, which
imports this module). Nothing here knows about a particular driver.
"""

from __future__ import annotations

import math

import numpy as np

from blrkit._array_api import array_namespace
from blrkit._validation import check_count, check_scalar, check_spd
from blrkit.algorithms._namespace import check_returned

__all__ = ["SQUARE_BOUND", "check_count", "check_output", "check_scalar", "check_spd",
           "check_square_sums", "require_callable"]

#: The largest |g| whose square is finite in float64 (√ of the largest float, ~1.34e154).
SQUARE_BOUND = math.sqrt(np.finfo(np.float64).max)


#: The floating dtypes an output may have: the drivers' linear algebra has no half precision (as for the inputs)
_WIDE = " (float32 or float64 when floating, not float16 or bfloat16)"


def require_callable(fn, name: str):
    """``fn`` itself, or ``TypeError`` naming ``name``.

    >>> require_callable(3, "grad")
    Traceback (most recent call last):
    ...
    TypeError: grad must be callable, got int
    """
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    return fn


def check_output(out, name: str, arg, *, shape, what: str = "an array", arg_name: str = "θ", step=None,
                 nonnegative: bool = False, squared: bool = False, finite: bool = True, xp=None):
    """``out``, the answer of the user's callable ``name`` to ``arg``, checked; NumPy's as an array.

    Parameters
    ----------
    out : array
        What the callable returned.
    name : str
        The callable's name as the user passed it (``"grad"``, ``"grad_batch"``).
    arg : array
        Its argument (its library is the one ``out`` must be from).
    shape : tuple of int
        The documented shape of ``out``: compared exactly, never broadcast.
    what : str
        What ``out`` is, for the message (``"a gradient"``).
    arg_name : str
        The argument's name in the documentation, for the message.
    step : int, optional
        The driver's step, named in the message.
    nonnegative : bool
        The documentation promises every entry ≥ 0 (a sum of squares).
    squared : bool
        The step squares ``out``: refuse |out| ≥ :data:`SQUARE_BOUND`, whose square overflows.
    finite : bool
        Check finiteness (``False``: the caller does, to name the entry that is not).
    xp : namespace, optional
        The namespace of ``arg`` if the caller has it.

    Raises
    ------
    TypeError
        ``out`` from another array library, complex, or not numbers.
    ValueError
        Another shape, NaN or inf, a negative entry where ``nonnegative``, an overflowing square.

    Examples
    --------
    >>> import numpy as np
    >>> check_output([1.0, 2.0], "grad", np.zeros(2), shape=(2,))
    array([1., 2.])
    >>> check_output(np.ones(1), "grad_batch", np.zeros(3), shape=(3,), what="a gradient", step=4)
    Traceback (most recent call last):
    ...
    ValueError: grad_batch must return a gradient of shape (3,) for θ of shape (3,), got shape (1,) at step 4
    >>> check_output(np.ones(2) + 1j, "grad", np.zeros(2), shape=(2,))
    Traceback (most recent call last):
    ...
    TypeError: the output of grad must be an array of real numbers, got complex values (dtype complex128)
    """
    xp = array_namespace(arg=arg) if xp is None else xp
    at = "" if step is None else f" at step {step}"
    if xp is np:
        if type(out) is not np.ndarray:
            check_returned(out, name, arg, arg_name)
            out = np.asarray(out)
        kind = out.dtype.kind
        if kind not in "fiu" or (kind == "f" and out.dtype.itemsize < 4):
            if kind == "c":
                raise TypeError(f"the output of {name} must be an array of real numbers, got complex values (dtype {out.dtype}){at}")
            raise TypeError(f"{name} must return real numbers{_WIDE}, got dtype {out.dtype}{at}")
    else:  # a list or a number is NumPy's: refused for another library's argument
        check_returned(out if hasattr(out, "shape") else np.asarray(out), name, arg, arg_name)
        if xp.isdtype(out.dtype, "complex floating"):
            raise TypeError(f"the output of {name} must be an array of real numbers, got complex values (dtype {out.dtype}){at}")
        if not xp.isdtype(out.dtype, ("real floating", "integral")) or "float16" in str(out.dtype):
            raise TypeError(f"{name} must return real numbers{_WIDE}, got dtype {out.dtype}{at}")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{name} must return {what} of shape {tuple(shape)} for {arg_name} of shape "
                         f"{tuple(arg.shape)}, got shape {tuple(out.shape)}{at}")
    if squared and out.size:
        # one pass: the largest |entry| is NaN or inf exactly when an entry is
        top = float(xp.max(xp.abs(out)))
        if not math.isfinite(top):
            raise ValueError(f"{name} returned non-finite values (NaN or inf){at}")
        if top >= SQUARE_BOUND:
            raise ValueError(f"{name} returned values up to {top:.3g}{at}: their squares overflow float64 (|values| "
                             f"must stay below {SQUARE_BOUND:.3g}); rescale the loss")
    elif nonnegative:
        # one pass: NaN fails both comparisons, inf the second
        if not bool(xp.all((out >= 0) & (out < math.inf))):
            if not bool(xp.all(xp.isfinite(out))):
                raise ValueError(f"{name} returned non-finite values (NaN or inf){at}")
            raise ValueError(f"{name} returned negative values for {what}, which must be >= 0{at}")
    elif finite and not (bool(np.isfinite(out).all()) if xp is np else bool(xp.all(xp.isfinite(out)))):
        raise ValueError(f"{name} returned non-finite values (NaN or inf){at}")
    return out


def check_square_sums(x, name: str, n: int, *, what: str = "") -> None:
    """Refuse data whose sums of ``n`` squares (a Gram matrix, Σ y²) overflow float64, naming ``name`` and its
    scale: every |x| must stay below :data:`SQUARE_BOUND`/√n. One pass (the largest |x|).

    >>> check_square_sums(np.array([1e200, 1.0]), "y", 2)
    Traceback (most recent call last):
    ...
    ValueError: y holds values up to |y| = 1e+200: sums of N = 2 squares overflow float64 (|y| must stay below 9.48e+153 here); rescale y
    """
    if not getattr(x, "size", 1):
        return
    xp = array_namespace(x=x)
    top = float(xp.max(xp.abs(x)))
    bound = SQUARE_BOUND / math.sqrt(max(n, 1))
    if top >= bound:
        raise ValueError(f"{name} holds values up to |{name}| = {top:.3g}{what}: sums of N = {n} squares overflow "
                         f"float64 (|{name}| must stay below {bound:.3g} here); rescale {name}")
