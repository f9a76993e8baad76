r"""The generic driver: loop any emitted BLR step from a start, calling it by keyword.

Every emitted step (:mod:`blrkit.algorithms._generated`) is a pure function
:math:`\lambda_{t+1} = \mathrm{step}(\lambda_t, \text{data}, \text{hyperparameters})` over its declared
arguments (Khan & Rue 2023, Sec. 2). A recipe whose step needs nothing beyond looping (no user callable
to check, no minibatch schedule) runs with :func:`iterate` and needs no driver of its own: the state is
given by name (``m=…, S=…``), the other arguments by name too, and the step's own signature says which
are required. The start and every argument are checked (finite real arrays, the rng a generator or a
seed), the iterates are checked finite, and nothing the caller passed is mutated.
"""

from __future__ import annotations

import inspect

import numpy as np

from blrkit._validation import as_float_array
from blrkit.algorithms._checks import require_callable
from blrkit.algorithms._common import check_rng
from blrkit.algorithms._runner import Run

__all__ = ["iterate"]

def _is_count(value) -> bool:
    """An integer argument (``n_samples``, ``n_data``): passed on as given, not made a float array."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def iterate(step, n_steps, *, state: dict, rng=None, **arguments) -> dict:
    r"""Take ``n_steps`` steps of the emitted ``step`` from ``state``; return the iterates by state name.

    .. math::

        (\text{state})_{t+1} = \mathrm{step}(\text{state}_t, \text{arguments}), \qquad t = 0, \dots, n-1

    Parameters
    ----------
    step : callable
        An emitted step, e.g. ``blrkit.algorithms._generated.ngvi_poisson.ngvi_poisson_step``: its outputs
        are the new values of ``state``'s entries, in the order given.
    n_steps : int
        Number of steps, ≥ 0.
    state : dict of str to array_like
        The start, by the step's argument names (``{"m": m0, "S": S0}``).
    rng : numpy.random.Generator, int or None
        The generator (or its seed) of a step that samples (it has an ``rng`` argument); refused otherwise.
    **arguments
        The step's other arguments by name (data, hyperparameters, ``n_samples``).

    Returns
    -------
    dict of str to numpy.ndarray
        For each state name, its iterates ``(n_steps + 1, *shape)``, the start at index 0.

    Raises
    ------
    TypeError
        ``step`` not callable; an argument the step does not take, or one it needs and was not given
        (named); a non-numeric array.
    ValueError
        A non-finite start or argument (named); arguments on which the step fails (shapes that do not fit, a
        singular matrix: the message gives every argument's shape); iterates that became non-finite.

    Examples
    --------
    Stochastic VI for a Gaussian mean (prior N(0, 1), one observation y = 2, σ² = 1), ρ = 1/2: the precision
    goes 1, 3/2, 7/4 towards the posterior's 2:

    >>> from blrkit.algorithms._generated.svi import svi_step
    >>> out = iterate(svi_step, 2, state={"m": 0.0, "S": 1.0}, rho=0.5, m_0=0.0, S_0=1.0, y=[2.0],
    ...               noise_variance=1.0, n_data=1)
    >>> out["S"]
    array([1.  , 1.5 , 1.75])
    """
    require_callable(step, "step")
    if not isinstance(state, dict) or not state:
        raise TypeError(f"state must be a non-empty dict of the step's state arguments, got {type(state).__name__}")
    step_name = getattr(step, "__name__", "step")
    takes = inspect.signature(step).parameters
    given = {**state, **arguments}
    unknown = [name for name in given if name not in takes]
    if unknown:
        raise TypeError(f"{step_name} takes no argument {unknown[0]!r} "
                        f"(it takes: {', '.join(takes)})")
    missing = [name for name in takes if name not in given and name != "rng"]
    if missing:
        raise TypeError(f"{step_name} needs the argument {missing[0]!r}")
    if rng is not None and "rng" not in takes:
        raise TypeError(f"{step_name} draws nothing: rng must be None")
    fixed = {name: value if _is_count(value) else as_float_array(value, name) for name, value in arguments.items()}
    if "rng" in takes:
        fixed["rng"] = check_rng(rng)
    names = tuple(state)
    start = tuple(as_float_array(state[name], name) for name in names)
    run = Run(np, n_steps=n_steps)

    def shapes_given(given):
        return ", ".join(f"{k} {tuple(np.shape(v))}" for k, v in {**given, **fixed}.items() if k != "rng")

    def one(current):
        given = dict(zip(names, current))
        try:
            out = step(**given, **fixed)
        except (ValueError, TypeError, np.linalg.LinAlgError) as e:  # shapes that do not fit, a singular matrix
            raise ValueError(f"{step_name} failed at step {run.t} on the arguments given ({shapes_given(given)}): "
                             f"{e}") from None
        out = out if isinstance(out, tuple) else (out,)
        # the new state has the state's shapes: an argument that broadcasts it to another shape is refused
        if len(out) != len(current) or any(np.shape(o) != c.shape for o, c in zip(out, current)):
            raise ValueError(f"{step_name} returned the state {', '.join(names)} with the shapes "
                             f"{[tuple(np.shape(o)) for o in out]} at step {run.t}, not its start's "
                             f"{[c.shape for c in current]}: an argument's shape does not fit ({shapes_given(given)})")
        return out

    iterates = run.loop(one, start, inputs={name: value for name, value in fixed.items()
                                            if name != "rng" and not _is_count(value)})
    return dict(zip(names, iterates))
