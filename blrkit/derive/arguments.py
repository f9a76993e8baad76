r"""The checks of a compiled step's arguments, by the roles its derivation declares (issue #27).

:meth:`Derivation.compile() <blrkit.derive.Derivation.compile>` returns the emitted step wrapped in
:class:`CheckedStep`: before the step runs, each argument is checked by what the derivation says it is, and
after it runs each output is checked finite. The emitted code itself (and every registered driver, which calls
the emitted modules directly) is unchanged.

A role is read from the derivation, never from the step's source text: an argument's declared ``kind``
(:class:`~blrkit.derive.derivation.Argument`), whether the update advances it (a state: ``m`` for ``m_new``),
the SymPy symbol it stands for (the step size :data:`~blrkit.derive.symbols.RHO`, a hyperparameter declared
``positive=True``), and the dimension D when the loss fixes it (a loss in ``theta_1, …, theta_D``).

=====================  ===================================================================================
role                   checked
=====================  ===================================================================================
every array            real numbers (no text, ``None``, complex, objects), every entry finite
``vector``             at least one axis; the last is D, the same for every vector and matrix
``matrix``             a precision ``(..., D, D)``: symmetric, then positive definite (symmetry first: a Cholesky
                       reads one triangle and would accept a non-symmetric matrix)
ρ                      in (0, 1]
``scalar``             a hyperparameter declared positive is > 0 (a state declared positive is ≥ 0: RMSprop
                       starts from v = 0); its shape is a batch shape
batch shapes           the vectors' ``(...)``, the matrices' ``(...)`` and the scalars' shapes broadcast together
``int``                an integer ≥ 1 (a count, or the step number t)
``callable``           callable; each value it returns real, finite, and shaped like its argument: the
                       argument's batch axes, then axes of size D (a gradient (..., D), a Hessian
                       (..., D, D), a loss (...))
``rng``                a :class:`numpy.random.Generator`
outputs                every entry finite, else the output is named
=====================  ===================================================================================

An error of NumPy (or another array library) inside the step, such as arrays of data whose shapes do not fit, is
raised again as a ``ValueError`` naming the step and the shapes of its arguments (a singular matrix as
:class:`SingularStepError`, still a :class:`numpy.linalg.LinAlgError`); an error of the user's callable
is the user's own and passes unchanged. No argument is copied or changed: the checks read them.
"""

from __future__ import annotations

import dis
import math
import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .._array_api import array_library, to_numpy
from .._validation import check_count, check_spd
from .symbols import RHO

__all__ = ["CheckedStep", "Role", "roles"]


@dataclass(frozen=True)
class Role:
    """What an argument of a step is, read from its derivation (see the module docstring)."""

    name: str
    kind: str  # the Argument's kind: vector, matrix, scalar, data, int, callable, rng
    state: bool = False  # the update advances it (m for m_new)
    rho: bool = False  # the step size ρ of the BLR: in (0, 1]
    sign: str = ""  # "positive" (> 0), "nonnegative" (≥ 0) or "" (any real), from the symbol's assumptions


def _code_name(x) -> str:
    """The name a symbol has in the emitted code (``m`` for the mixture's ``m_k``)."""
    from .printing import CODE_NAMES

    name = getattr(x, "name", None)
    name = name if isinstance(name, str) else str(x)
    return CODE_NAMES.get(name, name)


def roles(derivation) -> tuple[Role, ...]:
    """The role of each argument of ``derivation``'s step, in the order of its signature."""
    exprs = [x for eq in derivation.update for x in (eq.lhs, eq.rhs)] + [a.expr for a in derivation.assignments]
    symbols = {}
    for x in exprs:
        for s in getattr(x, "free_symbols", ()):
            symbols.setdefault(_code_name(s), s)
    outputs = {_code_name(o) for o in derivation.outputs}
    out = []
    for a in derivation.arguments:
        sym = symbols.get(a.name)
        state = f"{a.name}_new" in outputs
        rho = sym == RHO
        assumptions = getattr(sym, "assumptions0", {}) if sym is not None else {}
        sign = ""
        if assumptions.get("positive"):
            sign = "nonnegative" if state else "positive"
        elif assumptions.get("nonnegative"):
            sign = "nonnegative"
        out.append(Role(a.name, a.kind, state, rho, sign))
    return tuple(out)


def _fixed_dimension(derivation) -> int | None:
    """D when the loss fixes it (a loss in ``theta_1, …, theta_D``), else None."""
    from .losses import ComponentLoss

    loss = derivation.extra.get("loss")
    return loss.dim if isinstance(loss, ComponentLoss) else None


_REAL_KINDS = "biuf"
_ARRAY_KINDS = ("vector", "matrix", "scalar", "data")


class StepInputError(ValueError):
    """An argument of a compiled step that its derivation's roles refuse."""


class SingularStepError(StepInputError, np.linalg.LinAlgError):
    """A matrix the step solves with is singular at these arguments (a numerically legitimate end: still a
    :class:`numpy.linalg.LinAlgError`, which callers that step on may catch, with the step's name and shapes)."""


class CheckedStep:
    """A compiled step that checks its arguments by their roles and its outputs for NaN and inf.

    Called like the emitted function it wraps (positional or keyword arguments, in the signature's order);
    returns what it returns.
    """

    def __init__(self, derivation, step):
        self._step = step
        self._name = derivation.function_name
        self._roles = roles(derivation)
        self._names = tuple(r.name for r in self._roles)
        self._dim = _fixed_dimension(derivation)
        self._outputs = tuple(_code_name(o) for o in derivation.outputs)
        self.__name__ = self.__qualname__ = derivation.function_name
        self.__doc__ = step.__doc__
        self.__wrapped__ = step

    @cached_property
    def __signature__(self):
        import inspect

        return inspect.signature(self._step)

    def __repr__(self) -> str:
        return f"<checked blrkit step {self._name}({', '.join(self._names)})>"

    # -- arguments ----------------------------------------------------------------------------------------------
    def _bind(self, args, kwargs) -> dict:
        names = self._names
        if len(args) > len(names):
            raise TypeError(f"{self._name}() takes {len(names)} arguments ({', '.join(names)}), got {len(args)}")
        values = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"{self._name}() has no argument {k!r}; its arguments are {', '.join(names)}")
            if k in values:
                raise TypeError(f"{self._name}() got {k!r} twice (by position and by name)")
            values[k] = v
        missing = [n for n in names if n not in values]
        if missing:
            raise TypeError(f"{self._name}() is missing {', '.join(missing)} (its arguments are {', '.join(names)})")
        return values

    def _check(self, values: dict):
        """Check every argument; return the arrays' shapes and the callables."""
        shapes, batches, width = {}, [], None
        called = {}
        for r in self._roles:
            v = values[r.name]
            if r.kind in _ARRAY_KINDS:
                if type(v) is float:  # the common scalar, a Python float: no array
                    if not math.isfinite(v):
                        raise StepInputError(f"{r.name} must be finite (no NaN or inf), got {v!r}")
                    if r.kind != "scalar":
                        a = np.asarray(v)
                    else:
                        _sign(r, v > 0, v >= 0, v <= 1, v)
                        shapes[r.name] = ()
                        continue
                else:
                    a = _real_array(v, r.name)
                    if a.size:
                        _sign(r, *(_sign_facts(a, r)), a)
                shapes[r.name] = a.shape
                if r.kind == "vector":
                    if a.ndim < 1:
                        raise StepInputError(f"{r.name} must be an array (..., D), got a single number")
                    width = self._width(r.name, a.shape[-1], width)
                    batches.append((r.name, a.shape[:-1]))
                elif r.kind == "matrix":
                    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
                        raise StepInputError(f"{r.name} must be (..., D, D): square matrices, got shape {a.shape}")
                    width = self._width(r.name, a.shape[-1], width)
                    batches.append((r.name, a.shape[:-2]))
                    if a.size:  # symmetric first (a Cholesky reads one triangle), then positive definite
                        check_spd(a, r.name, rtol=_symmetry_rtol(a.dtype))
                elif r.kind == "scalar" and a.ndim:
                    batches.append((r.name, a.shape))
            elif r.kind == "int":
                check_count(v, r.name, 1)
            elif r.kind == "callable":
                if not callable(v):
                    raise TypeError(f"{r.name} must be callable, got {type(v).__name__}")
                called[r.name] = v
            elif r.kind == "rng":
                if not isinstance(v, np.random.Generator):
                    raise TypeError(f"{r.name} must be a numpy.random.Generator (numpy.random.default_rng(seed)), "
                                    f"got {type(v).__name__}")
        if len({s for _, s in batches}) > 1:
            _broadcast(batches)
        return shapes, called

    def _width(self, name: str, d: int, width):
        """The last axis D of a vector or matrix: the loss's D if it fixes one, and the same for all of them."""
        if self._dim is not None and d != self._dim:
            raise StepInputError(f"{name} must have D = {self._dim} in its last axis (the loss is in theta_1, …, "
                                 f"theta_{self._dim}), got {d}")
        if width is not None and d != width[1]:
            raise StepInputError(f"{name} has D = {d} in its last axis but {width[0]} has {width[1]}: they must agree")
        return width or (name, d)

    # -- the call -------------------------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        shapes, called = self._check(values)
        returned = {}
        failed = []
        for name, f in called.items():
            values[name] = _checked_callable(f, name, returned, failed)
        try:
            out = self._step(**values)
        except Exception as e:
            if failed or _raised_by_blrkit(e):
                raise  # the user's callable's own error, or a check of blrkit's: it names what is wrong
            sizes = ", ".join(f"{k} {v}" for k, v in {**shapes, **{k: a.shape for k, a in returned.items()}}.items())
            if isinstance(e, np.linalg.LinAlgError):
                raise SingularStepError(f"{self._name}: a matrix it solves with is singular at these arguments "
                                        f"(shapes: {sizes}): {e}") from e
            raise StepInputError(f"{self._name} could not compute with these arguments (shapes: {sizes}): "
                                 f"{type(e).__name__}: {e}") from e
        results = out if isinstance(out, tuple) else (out,)
        for name, value in zip(self._outputs, results):
            a = _as_numpy(value)
            if a is not None and a.dtype.kind in "f" and not _finite(a):
                largest = ", ".join(f"|{k}| up to {m:.3g}" for k, m in _largest({**values, **returned}).items())
                raise StepInputError(f"{self._name}: its output {name} holds NaN or inf although every argument is "
                                     f"finite (the step overflowed or divided by zero; {largest}: rescale)")
        return out


def _as_numpy(v):
    """``v`` as a NumPy array to read (no copy for NumPy), or None when it is no array or number."""
    if isinstance(v, np.ndarray):
        return v
    if isinstance(v, (float, int, np.generic)):
        return np.asarray(v)
    if array_library(v) not in (None, "numpy"):
        return to_numpy(v)
    return None


def _real_array(v, name: str) -> np.ndarray:
    """``v`` read as a NumPy array of real, finite numbers (not copied when it is one); else a named error."""
    if v is None:
        raise TypeError(f"{name} is required: got None, expected real numbers")
    if isinstance(v, (str, bytes)):
        raise TypeError(f"{name} must be real numbers, got {type(v).__name__} {v!r:.40}")
    if isinstance(v, np.ndarray):
        a = v
    elif array_library(v) not in (None, "numpy"):
        a = to_numpy(v)
    else:
        try:
            a = np.asarray(v)
        except (TypeError, ValueError, OverflowError):
            raise TypeError(f"{name} must be real numbers (an array, a list of numbers or a number), got "
                            f"{type(v).__name__}") from None
    kind = a.dtype.kind
    if kind not in _REAL_KINDS:
        what = "complex values" if kind == "c" else "text" if kind in "US" else f"dtype {a.dtype}"
        raise TypeError(f"{name} must be real numbers, got {what}")
    if kind == "f" and not _finite(a):
        raise StepInputError(f"{name} must be finite (no NaN or inf)")
    return a


def _finite(a: np.ndarray) -> bool:
    """Every entry of the float array ``a`` finite: its sum is (one reduction), or else every entry is (a sum of
    finite numbers may overflow)."""
    return math.isfinite(a.sum()) or bool(np.isfinite(a).all())


def _shown(a):
    a = np.asarray(a)
    return float(a) if a.ndim == 0 else (a.tolist() if a.size <= 6 else f"an array of shape {a.shape}")


def _sign_facts(a: np.ndarray, r: Role) -> tuple:
    """Whether every entry of ``a`` is > 0, ≥ 0 and ≤ 1, as far as ``r`` needs them (no work when it needs none)."""
    if r.rho:
        return bool((a > 0).all()), True, bool((a <= 1).all())
    if r.sign == "positive":
        return bool((a > 0).all()), True, True
    if r.sign == "nonnegative":
        return True, bool((a >= 0).all()), True
    return True, True, True


def _sign(r: Role, positive: bool, nonnegative: bool, at_most_one: bool, value) -> None:
    """Refuse ``value`` for the sign ``r`` declares: ρ in (0, 1], a hyperparameter > 0, a state ≥ 0."""
    if r.rho and not (positive and at_most_one):
        raise StepInputError(f"{r.name} must lie in (0, 1], got {_shown(value)}")
    if r.sign == "positive" and not positive:
        raise StepInputError(f"{r.name} must be > 0, got {_shown(value)}")
    if r.sign == "nonnegative" and not nonnegative:
        raise StepInputError(f"{r.name} must be >= 0, got {_shown(value)}")


def _symmetry_rtol(dtype) -> float:
    """How far from symmetric a precision may be, relative to its largest entry: a thousand ulps of its dtype
    (float32 steps symmetrise to rounding), and never tighter than :func:`~blrkit._validation.check_spd`'s 1e-10."""
    return max(1e-10, 1e3 * float(np.finfo(dtype if np.dtype(dtype).kind == "f" else np.float64).eps))


def _broadcast(batches) -> None:
    """The batch shapes of the vectors, matrices and scalars broadcast together, else the two that do not."""
    try:
        np.broadcast_shapes(*(s for _, s in batches))
    except ValueError:
        for i, (n1, s1) in enumerate(batches):
            for n2, s2 in batches[i + 1:]:
                try:
                    np.broadcast_shapes(s1, s2)
                except ValueError:
                    raise StepInputError(f"{n2} has batch shape {s2} but {n1} has {s1}: batch shapes must broadcast "
                                         "(a vector is (..., D), a matrix (..., D, D), a scalar (...))") from None


def _checked_callable(f, name: str, returned: dict, failed: list):
    """``f`` whose every value is checked: real, finite, and shaped like its argument (its batch axes, then axes
    of size D: a gradient (..., D), a Hessian (..., D, D), a loss (...)); its own errors marked as its own."""
    def call(*args, **kwargs):
        try:
            out = f(*args, **kwargs)
        except Exception:
            failed.append(name)
            raise
        x = args[0] if len(args) == 1 and not kwargs else None
        shape = tuple(getattr(x, "shape", ())) or None
        for part in out if isinstance(out, tuple) else (out,):
            try:
                a = _real_array(part, f"the value {name} returned")
                if shape is not None:
                    _shaped_like(a.shape, shape, name)
            except (TypeError, ValueError):
                failed.append(name)
                raise
            returned[f"{name}(…)"] = a
        return out
    return call


def _shaped_like(got: tuple, given: tuple, name: str) -> None:
    """A callable's value for an argument of shape ``(*batch, D)``: ``(*batch)`` then any number of axes of D."""
    batch, d = given[:-1], given[-1]
    if got[:len(batch)] != batch or any(n != d for n in got[len(batch):]):
        raise StepInputError(f"{name} returned an array of shape {got} for an argument of shape {given}: its value "
                             f"must keep the argument's batch axes {batch}, then axes of size D = {d} (a gradient "
                             "(..., D), a Hessian (..., D, D), a loss (...))")


def _largest(values: dict) -> dict:
    out = {}
    for k, v in values.items():
        a = _as_numpy(v) if not isinstance(v, (list, tuple)) else None
        if a is not None and a.dtype.kind in "biuf" and a.size:
            out[k] = float(np.max(np.abs(a)))
    return out


#: the opcode of a ``raise`` statement: the emitted code's own checks (labels, shapes) raise named errors
_RAISE = dis.opmap["RAISE_VARARGS"]


def _raised_by_blrkit(error) -> bool:
    """Whether ``error`` was raised by a ``raise`` statement of blrkit's (a source file of the package, or the
    emitted step's own check), not inside NumPy or by an operation of the emitted code."""
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    if f"{os.sep}blrkit{os.sep}" in code.co_filename:
        return True
    return code.co_filename.startswith("<blrkit ") and code.co_code[tb.tb_lasti] == _RAISE
