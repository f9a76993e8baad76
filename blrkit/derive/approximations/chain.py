"""The chain of approximations: each given by itself or its key, in an order checked from their declarations
(:attr:`~.base.Approximation.stage`, :attr:`~.base.Approximation.requires`, :attr:`~.base.Approximation.produces`,
:attr:`~.base.Approximation.estimates`), never from their keys."""

from __future__ import annotations

from ..roles import Role
from .base import APPROXIMATIONS, Approximation, Stage
from .step_size import StepSize, UnitStep

__all__ = ["as_approximation", "ordered"]

#: stages that may interleave share a rank; a chain's ranks never decrease
_RANK = {Stage.NATURAL: 0, Stage.EXPECTATION: 0, Stage.TEXTBOOK: 1, Stage.LIMIT: 2}
_ROLES = list(Role)


def as_approximation(a) -> Approximation:
    """An :class:`Approximation` from itself or its key: ``"delta"``, ``"rho=1"``, ``"rho=0.5"``, ``"rho=1/4"``.

    >>> as_approximation("rho=0.25")
    StepSize(value=1/4)
    >>> as_approximation("rho=2")
    Traceback (most recent call last):
    ...
    ValueError: rho must be in (0, 1], got '2'
    """
    if isinstance(a, Approximation):
        return a
    if not isinstance(a, str):
        raise TypeError(f"an approximation must be an Approximation or its key (a str), got {type(a).__name__}")
    key = a.strip().replace(" ", "")
    if key in APPROXIMATIONS:
        return APPROXIMATIONS[key]
    if key.startswith("rho="):
        step = StepSize(key[4:])
        return UnitStep() if step.value == 1 else step
    raise ValueError(f"unknown approximation {a!r}; known: {', '.join(APPROXIMATIONS)}, or rho=<number in (0, 1]>")


def _keys_of(stage: Stage) -> str:
    return ", ".join(k for k, a in APPROXIMATIONS.items() if a.stage is stage)


def ordered(approximations) -> tuple[Approximation, ...]:
    """Check that an order of approximations has one meaning, from what each declares: no approximation given
    twice, at most one step size; the stages in order (the natural gradient and its expectations, then rewrites
    of the textbook form, then limits); every role an approximation ``requires`` produced by an earlier one;
    and no role produced after an earlier approximation ``estimates`` it (the minibatch estimate must see the
    sums the Gauss–Newton and reparameterisation Hessians create).

    >>> [a.key for a in ordered(["delta", "stochastic"])]
    ['delta', 'stochastic']
    >>> ordered(["squared-gradient", "stochastic"])
    Traceback (most recent call last):
    ...
    ValueError: 'squared-gradient' requires the minibatch gradient, which no earlier approximation produces: give 'stochastic' before it
    """
    approx = tuple(as_approximation(a) for a in approximations)
    keys = [a.key for a in approx]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ValueError(f"approximation {sorted(dup)[0]!r} is given twice")
    if sum(isinstance(a, StepSize) for a in approx) > 1:
        raise ValueError("give at most one step size rho=…")
    for a, b in zip(approx, approx[1:]):
        if _RANK[b.stage] < _RANK[a.stage]:
            if a.stage is Stage.LIMIT:
                raise ValueError(f"the limits of STE ({_keys_of(Stage.LIMIT)}) come last")
            raise ValueError(f"rewrites of the textbook form ({_keys_of(Stage.TEXTBOOK)}) come after the "
                             "approximations of the natural gradient")
    produced: set = set()
    for i, a in enumerate(approx):
        missing = sorted(a.requires - produced, key=_ROLES.index)
        if missing:
            producers = [repr(k) for k, p in APPROXIMATIONS.items() if missing[0] in p.produces]
            raise ValueError(f"{a.key!r} requires {missing[0].description}, which no earlier approximation produces: "
                             f"give {' or '.join(producers) or 'an approximation that produces it'} before it")
        for b in approx[:i]:
            clash = sorted(a.produces & b.estimates, key=_ROLES.index)
            if clash:
                raise ValueError(f"{b.key!r} before {a.key!r} would estimate {clash[0].description} before it exists: "
                                 f"give {a.key} first (it produces the sum that {b.key} estimates)")
        produced |= a.produces
    return approx
