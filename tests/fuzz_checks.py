"""What the generated-input tests check of any call (issue #27), shared by ``tests/test_public_api_fuzz.py`` and
``tests/derive/test_derive_api_fuzz.py``: whether an error was raised by blrkit itself, every float array in a
result, and every array the caller passed (to check that none was changed)."""

import contextlib
import dataclasses
import dis
import os
import signal
import traceback

import numpy as np


def raised_by_blrkit(error) -> bool:
    """Whether ``error`` comes from a ``raise`` statement of blrkit's own (a named error), not from NumPy, SciPy,
    SymPy or Python inside (a failed conversion, an operator on arrays of the wrong shape). An emitted step compiled
    by ``Derivation.compile()`` has no source file (``<blrkit NAME>``): there the instruction that raised must be a
    ``raise`` (NumPy's errors in its operations have no frame of their own, so they show as its lines)."""
    frame = traceback.extract_tb(error.__traceback__)[-1]
    if frame.filename.startswith("<blrkit "):
        tb = error.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        return tb.tb_frame.f_code.co_code[tb.tb_lasti] == dis.opmap["RAISE_VARARGS"]
    return f"{os.sep}blrkit{os.sep}" in frame.filename and (frame.line or "").lstrip().startswith("raise")


def float_arrays(out):
    """Every float array and float in a result (NamedTuples, dataclasses, dicts, tuples and lists of them)."""
    if isinstance(out, np.ndarray):
        if out.dtype.kind in "fc":
            yield out
    elif isinstance(out, float):
        yield np.asarray(out)
    elif isinstance(out, (tuple, list)):
        for o in out:
            yield from float_arrays(o)
    elif isinstance(out, dict):
        for o in out.values():
            yield from float_arrays(o)
    elif dataclasses.is_dataclass(out):
        for f in dataclasses.fields(out):
            yield from float_arrays(getattr(out, f.name))


def given_arrays(value):
    """The caller's arrays in an argument (itself, or inside a list, tuple or dict)."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from given_arrays(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from given_arrays(v)


class TooSlow(Exception):
    """Raised into a call that ran past the CPU time :func:`cpu_time_limit` allows it."""


@contextlib.contextmanager
def cpu_time_limit(seconds: float):
    """Raise :class:`TooSlow` into the code in the block after ``seconds`` of this process's CPU time: a hang
    guard (SymPy's work is Python, so it stops there) that a loaded machine, which only delays the call, does not
    trip as a wall-clock alarm would."""
    def stop(signum, frame):
        raise TooSlow(f"did not end in {seconds} s of CPU time")
    old = signal.signal(signal.SIGPROF, stop)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
