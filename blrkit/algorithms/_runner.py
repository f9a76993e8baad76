r"""The generic runner under the loop-over-a-step drivers: state, the step loop, minibatches and the rng, the
checks of every call of a user's callable, and the iterates.

A BLR driver is an emitted step :math:`\lambda_{t+1} = \mathrm{step}(\lambda_t, \text{oracles})` (Khan & Rue 2023,
Sec. 2) looped :math:`n` times from a checked start. What differs between drivers is the step and its state;
what they share is here, once:

- :class:`Run` holds one run: the namespace of its arrays, the number of steps, the step being taken (every
  message names it; step 1 is the first), and the seeded generator of its minibatches.
- :meth:`Run.oracle` wraps a user's callable so that **every** call is checked by
  :func:`blrkit.algorithms._checks.check_output` (library, real dtype with complex refused and never cast,
  exactly the documented shape with no broadcasting, finite values, the promised sign or bound), with a
  message naming the callable, its argument and the step.
- :meth:`Run.minibatch` draws the indices of a step's minibatch (sorted, without replacement) on the host and
  hands them over as the library's integers on the arrays' device.
- :meth:`Run.loop` steps a tuple of state arrays, checks each new state (the driver's ``check``), and records
  the iterates it is told to keep (NumPy: rows of one preallocated array).

This module is made for sharing: the drivers import it, it imports no driver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext

import numpy as np

from blrkit._array_api import to_numpy
from blrkit.algorithms._checks import check_output, require_callable
from blrkit.algorithms._common import check_minibatch, check_n_steps, check_rng, step_failure
from blrkit.algorithms._namespace import indices_on, recorder

__all__ = ["Run", "hessian_shape"]


def hessian_shape(m) -> tuple[int, ...]:
    """The documented shape of a Hessian at ``m (*batch, D)``: ``(*batch, D, D)``."""
    return tuple(m.shape) + tuple(m.shape[-1:])


class Run:
    """One run of a driver: ``n_steps`` steps in the namespace ``xp``, minibatches of ``batch_size`` of
    ``n_data`` terms drawn from ``rng`` (when given).

    Parameters
    ----------
    xp : namespace
        The namespace of the driver's arrays (:func:`blrkit._array_api.array_namespace`).
    n_steps : int
        The number of steps, checked (an integer ≥ 0).
    n_data, batch_size : int, optional
        The number N of terms of the loss and the minibatch size M ≤ N, checked, for :meth:`minibatch`.
    rng : numpy.random.Generator, int or None
        The generator (or its seed) of the minibatches and of any sampling the step does, checked.
    dtype : dtype, optional
        The floating dtype of the run (:func:`~blrkit.algorithms._namespace.floating_dtype`): the start is
        cast to it by :meth:`cast` and every new state after each step, so the iterates keep it (float32
        stays float32). None: the state's own dtype.

    Examples
    --------
    Gradient descent on ½‖m‖², its gradient checked at every call:

    >>> import numpy as np
    >>> run = Run(np, n_steps=2)
    >>> grad = run.oracle(lambda m: m, "grad")
    >>> (means,) = run.loop(lambda state: (state[0] - 0.5 * grad(state[0]),), (np.ones(1),))
    >>> means[:, 0]
    array([1.  , 0.5 , 0.25])
    >>> bad = Run(np, n_steps=3).oracle(lambda m: np.ones(1), "grad")
    >>> bad(np.zeros(2))
    Traceback (most recent call last):
    ...
    ValueError: grad must return a gradient of shape (2,) for m of shape (2,), got shape (1,) at step 0
    """

    def __init__(self, xp, *, n_steps, n_data=None, batch_size=None, rng=None, sampling=False, dtype=None):
        self.xp = xp
        self.dtype = dtype
        self.n_steps = check_n_steps(n_steps)
        #: the step being taken: 0 before the loop, then 1, 2, …, n_steps
        self.t = 0
        self.n_data = self.batch_size = None
        if n_data is not None or batch_size is not None:
            check_minibatch(n_data, batch_size)
            self.n_data, self.batch_size = int(n_data), int(batch_size)
        self.rng = check_rng(rng) if (rng is not None or self.n_data is not None or sampling) else None

    def oracle(self, fn, name: str, *, shape: Callable | None = None, what: str = "a gradient",
               arg_name: str = "m", squared: bool = False, nonnegative: bool = False) -> Callable:
        """``fn`` wrapped so that the output of every call is checked against its documented ``shape`` (a
        function of the argument; the argument's own shape by default); the message names ``name`` (the
        user's name of the callable), ``arg_name`` and the step (``squared``, ``nonnegative``: see
        :func:`~blrkit.algorithms._checks.check_output`). Extra arguments (minibatch indices) are passed on."""
        require_callable(fn, name)
        xp = self.xp

        def check(out, theta):
            expected = tuple(theta.shape) if shape is None else shape(theta)
            return check_output(out, name, theta, shape=expected, what=what, arg_name=arg_name,
                                step=self.t, squared=squared, nonnegative=nonnegative, xp=xp)

        def call(theta, *args):
            return check(fn(theta, *args), theta)

        #: the check alone, for a driver that calls ``fn`` itself on its hot path and checks only what needs it
        call.check = check
        return call

    def cast(self, a):
        """``a`` in the run's floating dtype (itself when it has it already, or when the run has none; a complex
        ``a`` too: casting would drop its imaginary part, which the checks refuse)."""
        if self.dtype is None or a.dtype == self.dtype:
            return a
        if self.xp is np:
            with np.errstate(over="ignore"):  # beyond float32's range: inf, which the driver's check reports
                return a if a.dtype.kind == "c" else a.astype(self.dtype)
        return a if self.xp.isdtype(a.dtype, "complex floating") else self.xp.astype(a, self.dtype)

    def minibatch(self, like):
        """The indices of this step's minibatch: M of the N terms, sorted, drawn without replacement from
        :attr:`rng` on the host, as the library's integers on ``like``'s device."""
        idx = self.rng.choice(self.n_data, self.batch_size, replace=False)
        idx.sort()  # in place (a fresh array): np.sort's copy and dispatch cost 2 µs, a tenth of a small step
        return idx if self.xp is np else indices_on(self.xp, idx, like)

    def loop(self, step: Callable, state: Sequence, *, keep: Sequence[int] | None = None,
             check: Callable | None = None, inputs: dict | None = None) -> tuple:
        """Take :attr:`n_steps` steps ``state ← step(state)`` from ``state`` (a tuple of arrays), each new
        state in the run's dtype (:meth:`cast`), calling ``check(t, state)`` after step t; return the iterates
        of the state entries ``keep`` (all by default), each ``(n_steps + 1, *shape)`` with the start at
        index 0.  Without ``check``, the iterates are checked finite once at the end (no per-step cost), and a
        non-finite one is a ``ValueError`` naming its first step and the largest of the named ``inputs``."""
        state = tuple(self.cast(s) for s in state)
        cast = self.cast if self.dtype is not None else None
        keep = range(len(state)) if keep is None else keep
        records = [recorder(self.xp, state[k], self.n_steps) for k in keep]
        quiet = (lambda: np.errstate(over="ignore", invalid="ignore", divide="ignore")) if check is None else nullcontext
        for t in range(1, self.n_steps + 1):
            self.t = t
            try:
                with quiet():  # without a check, an overflow is reported by the final one, not as a warning
                    state = tuple(step(state)) if cast is None else tuple(cast(s) for s in step(state))
            except Exception as error:  # an arithmetic failure of the step (not of the checked inputs): named
                failure = step_failure(error, f"the update at step {t}")
                if failure is None:
                    raise
                raise failure from error
            if check is not None:
                check(t, state)
            for (store, _), k in zip(records, keep):
                store(t, state[k])
        iterates = tuple(stacked() for _, stacked in records)
        if check is None:
            self._check_finite(iterates, inputs or {})
        return iterates

    def _check_finite(self, iterates, inputs: dict) -> None:
        """``ValueError`` at the first step whose state is not finite (an overflow), naming the inputs' scales."""
        xp = self.xp
        bad = [xp.reshape(~xp.isfinite(a), (a.shape[0], -1)) for a in iterates]
        if not any(bool(xp.any(b)) for b in bad):
            return
        t = next(t for t in range(bad[0].shape[0]) if any(bool(xp.any(b[t, ...])) for b in bad))
        host = {name: np.asarray(v, dtype=float) if isinstance(v, (int, float, list, np.ndarray)) else to_numpy(v)
                for name, v in inputs.items() if v is not None}
        scales = "".join(f"; |{name}| up to {float(np.max(np.abs(v))):.3g}" for name, v in host.items() if v.size)
        raise ValueError(f"the iterates became non-finite at step {t}: an overflow{scales}; rescale the inputs")
