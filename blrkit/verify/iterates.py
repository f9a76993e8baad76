r"""The generic row check: a recipe's public driver against its textbook oracle, every iterate.

A row that composes existing pieces (a candidate, a loss, approximations) needs no check of its own: its
record (:data:`blrkit.derive.known.RECORDS`) gives the problem (``check_problem``: the emitted step's
state, arguments and number of steps on a seeded :class:`~blrkit.verify.Problem`), the tolerance, the
driver (``algorithm``, e.g. the generic :func:`blrkit.algorithms.iterate.iterate`) and the oracle (``classical``,
written independently in :mod:`blrkit.classical`). :func:`iterates` runs

- the driver on the committed emitted step, and on the step compiled from the derivation (*freshness*:
  the same code, within :data:`~blrkit.verify.registry.SAME_CODE`);
- the oracle on the same problem (*independent*, within the record's tolerance), every iterate of every
  state entry compared. A step that samples (it has an ``rng`` argument) draws
  ``rng.standard_normal((n_samples, *shape of the first state entry))`` each step from a generator seeded
  with the problem's seed; the oracle is given those draws as ``eps`` ``(n_steps, n_samples, *shape)``.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np

from blrkit.verify.registry import SAME_CODE, Check, Problem, compare, register, resolve

__all__ = ["iterates"]


@register()
def iterates(p: Problem, recipe) -> list[Check]:
    """The driver's iterates against the oracle's (independent) and against the compiled derivation's."""
    spec = recipe.check_problem(p)
    state, arguments, n_steps = spec["state"], spec["arguments"], spec["n_steps"]
    driver, oracle = resolve(recipe.algorithm), resolve(recipe.classical)
    step = getattr(importlib.import_module(f"blrkit.algorithms._generated.{recipe.module}"), recipe.function)
    samples = "rng" in inspect.signature(step).parameters
    seed = p.seed if samples else None
    got = driver(step, n_steps, state=state, rng=seed, **arguments)
    fresh = driver(recipe.derive().compile(), n_steps, state=state, rng=seed, **arguments)
    given = {name: value for name, value in arguments.items() if name != "n_samples"}
    if samples:
        rng, shape = np.random.default_rng(p.seed), np.shape(next(iter(state.values())))
        given["eps"] = np.stack([rng.standard_normal((arguments["n_samples"], *shape)) for _ in range(n_steps)])
    expected = oracle(**state, **given)
    name = f"classical.{recipe.classical.rpartition(':')[2]} ({', '.join(state)})"
    return [compare("derived step (compiled)", SAME_CODE, False, *((fresh[k], got[k]) for k in state)),
            compare(name, recipe.tolerance, True, *((got[k], e) for k, e in zip(state, expected)))]
