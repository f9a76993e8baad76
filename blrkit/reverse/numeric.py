r"""The numeric side of an identification: the user's update against the emitted step at random states.

The emitted step (:meth:`blrkit.derive.Derivation.compile`) is called with the states mapped from
the user's, its parameters computed from the user's hyperparameters by the solved mapping, and
oracles (``grad``, ``hess``, ``grad_mean``, …) that return fixed random arrays, so that each oracle
term of the step (``g``, ``E_g``, …) is the value the user's gradient symbol was given.  The user's
update is evaluated at the same values by :func:`evaluate`.

The search compares updates in one dimension; this check runs in :data:`D` dimensions, each matrix
a random symmetric positive-definite one that is far from diagonal, so that an update that agrees
with a derivation only on the diagonal (:math:`\operatorname{diag}(H)` for :math:`H`,
:math:`g / \operatorname{diag}(S)` for :math:`S^{-1} g`) fails it.  The user's symbols take the
shapes of the derivation's symbols they were mapped to; a product is read in the order written
(``inv(S)*g`` is :math:`S^{-1} g`), a number added to a matrix is a multiple of the identity, and a
product of two vectors is elementwise (the diagonal families' squared gradient).

A step that reads data arrays (``X``, ``y``) is run on one datum in one dimension, every array's
axes of size 1, when the solved mapping gives each array a value; a parameter the step computes
from its arrays' shapes (:math:`N`, :math:`M`) is then 1, and must be one of the user's
hyperparameters, set to 1 too.  The layout of one datum is a guess, so a step that refuses it is
reported as not checked, and a difference found this way is reported without refuting the match.
A step whose array has no value from the mapping, or an oracle term that is not an oracle's value
(a sample average such as :math:`\mathbb{E}[g\,(\theta - m)]`), cannot be set; the check then says
it was not run and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import numpy as np
import sympy as sp

from ..derive.ir import Alias, OracleCall
from .syntax import DATA_SUM, DIAG

#: the agreement demanded: both sides evaluate the same rational function in float64, a few dozen
#: operations on values of order one, each erring by about 2.2e-16
ROUNDING = 1e-9
#: how many random states are tried, and in how many dimensions
STATES = 3
D = 3


@dataclass(frozen=True)
class NumericCheck:
    """The user's update against the emitted step: largest relative error, tolerance, how many states, seed."""

    ran: bool
    error: float = float("nan")
    tolerance: float = ROUNDING
    states: int = 0
    seed: int = 0
    reason: str = ""
    one_datum: bool = False  # a step reading data arrays, run on one datum in one dimension

    @property
    def passed(self) -> bool:
        return bool(self.ran and np.isfinite(self.error) and self.error <= self.tolerance)

    @property
    def differs(self) -> bool:
        """Both sides were computed and they differ beyond the tolerance (not: the check could not run, or raised)."""
        return bool(self.ran and not self.reason and not self.one_datum and np.isfinite(self.error)
                    and self.error > self.tolerance)

    def text(self) -> str:
        if not self.ran:
            return f"numeric check not run: {self.reason}"
        verdict = "PASS" if self.passed else "FAIL"
        where = " with one datum in one dimension" if self.one_datum else f" in {D} dimensions"
        return (f"numeric check against the emitted step: largest relative error {self.error:.1e} "
                f"(tolerance {self.tolerance:.0e}, float64 rounding) over {self.states} random states{where}, "
                f"seed {self.seed}: {verdict}")


def _oracle_targets(derivation) -> dict:
    """Callable argument -> the oracle terms it sets directly (``g_sum, g_sq = grad_sums(m)``), and aliases."""
    callables = {a.name for a in derivation.arguments if a.kind == "callable"}
    targets, aliases = {}, {}
    for node in derivation.oracles:
        if isinstance(node, OracleCall) and node.oracle in callables:
            targets.setdefault(node.oracle, []).append(node.targets)
        elif isinstance(node, Alias) and not node.average:
            aliases[node.target] = node.source
    return targets, aliases


def check(attempt, user, *, seed: int = 0) -> NumericCheck:
    """Run the emitted step of ``attempt.candidate`` and the user's update at :data:`STATES` random states."""
    cand, d = attempt.candidate, attempt.candidate.derivation
    kinds = {a.name: a.kind for a in d.arguments}
    data = [n for n, k in kinds.items() if k == "data"]
    dim, sizes, size_keys = D, {}, set()
    if data:  # one datum in one dimension: every array of the step has its axes of size 1
        dim = 1
        unset = [n for n in data if n not in attempt.parameters and n not in attempt.states.values()]
        if unset:
            return NumericCheck(False, seed=seed, reason=f"the step reads data arrays ({', '.join(data)}); "
                                                         f"{', '.join(unset)} has no value from the mapping")
        for k, v in attempt.parameters.items():  # computed by the step from its arrays' shapes: 1 here
            if k not in kinds:
                if not (isinstance(v, sp.Symbol) and v.name in user.hyperparameters):
                    return NumericCheck(False, seed=seed, reason=f"the step reads data arrays ({', '.join(data)}); "
                                                                 f"{k} = {v} is not a size it can set")
                sizes[v.name] = 1.0
                size_keys.add(k)
    targets, aliases = _oracle_targets(d)
    set_by = {t: (fn, i, len(group)) for fn, groups in targets.items() for group in groups
              for i, t in enumerate(group)}
    needed = set(cand.oracles) - size_keys
    for name, source in aliases.items():
        if name in needed and source in set_by:
            set_by[name] = set_by[source]
    missing = sorted(n for n in needed if n not in set_by)
    if missing:
        return NumericCheck(False, seed=seed, reason=f"the oracle terms {', '.join(missing)} are not an oracle's value")
    rng = np.random.default_rng(seed)
    shape_of = {u: cand.shapes.get(c, "vector") for u, c in {**attempt.states, **attempt.gradients}.items()}
    back_state = {c: u for u, c in attempt.states.items()}
    back_grad = {c: u for u, c in attempt.gradients.items()}
    hyper = [sp.Symbol(h) for h in user.hyperparameters]
    errors = []
    try:
        for _ in range(STATES):
            uval = {s: _random(rng, shape_of[s], 0.5, 2.0, dim) for s in user.states}
            uval.update({g: _random(rng, shape_of[g], -1.0, 1.0, dim) for g in user.gradients})
            hval = {h: sizes.get(h, float(rng.uniform(0.2, 0.9))) for h in user.hyperparameters}
            values = {}   # candidate name -> array
            for c, u in back_state.items():
                values[c] = uval[u]
            for o in needed:
                values[o] = uval[back_grad[o]] if o in back_grad else _parameter(attempt, o, hval, hyper)
            for name, source in aliases.items():  # g_batch = g_sum: the oracle sets g_sum
                if name in values:
                    values[source] = values[name]
            kwargs = {}
            for a in d.arguments:
                if a.kind == "callable":
                    kwargs[a.name] = _constant(a.name, targets.get(a.name, []), values, cand.shapes, dim)
                elif a.kind == "rng":
                    kwargs[a.name] = np.random.default_rng(seed)
                elif a.name in values:
                    kwargs[a.name] = _shaped(values[a.name], cand.shapes.get(a.name, "vector"), a.kind, dim)
                elif a.name in attempt.parameters and a.kind == "data":
                    kwargs[a.name] = _shaped(_parameter(attempt, a.name, hval, hyper),
                                             cand.shapes.get(a.name, "vector"), a.kind, dim)
                elif a.name in attempt.parameters:
                    kwargs[a.name] = _parameter(attempt, a.name, hval, hyper)
                elif a.kind == "int":
                    kwargs[a.name] = 2
                else:
                    kwargs[a.name] = 0.5
            # the emitted function itself, not its argument-checking wrapper: the values are the user's formula's
            # at random points (a real N, an S that need not be a precision), compared formula with formula
            out = d.compile().__wrapped__(**kwargs)
            out = out if isinstance(out, tuple) else (out,)
            produced = {getattr(o, "name", str(o)): v for o, v in zip(d.outputs, out)}
            exprs = user.ordered or user.new
            for u, c in attempt.states.items():
                got = np.asarray(produced[c + "_new"], dtype=float)
                try:
                    want = np.asarray(evaluate(exprs[u], {**uval, **hval}), dtype=float)
                    want = want.reshape(got.shape) if want.size == got.size else np.broadcast_to(want, got.shape)
                except ValueError as e:  # the user's update has no reading at these shapes: not a failure
                    return NumericCheck(False, seed=seed, reason=f"the update of {u} cannot be evaluated "
                                                                 f"with matrices of size {dim}: {e}")
                errors.append(float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300)))
    except Exception as e:  # noqa: BLE001 -- the emitted step raising is the check's outcome, reported
        if data:  # one datum is a guess at the arrays' layout: a step that refuses it was not checked
            return NumericCheck(False, seed=seed, reason=f"the step reads data arrays ({', '.join(data)}) and "
                                                         f"refused one datum: {type(e).__name__}: {e}")
        return NumericCheck(True, float("inf"), seed=seed, reason=f"{type(e).__name__}: {e}")
    return NumericCheck(True, max(errors), states=STATES, seed=seed, one_datum=bool(data))


def _random(rng, shape: str, low: float, high: float, dim: int = D):
    """A random value of ``shape``: a matrix is symmetric positive definite with off-diagonal entries of the
    diagonal's order (``A Aᵀ/D + I/2``, ``A`` standard normal); a vector or number is uniform in (low, high)."""
    if shape == "matrix":
        a = rng.standard_normal((dim, dim))
        return a @ a.T / dim + 0.5 * np.eye(dim)
    return rng.uniform(low, high, dim)


def _add(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim == 2 and b.ndim == 0:
        return a + b * np.eye(a.shape[0])
    if b.ndim == 2 and a.ndim == 0:
        return b + a * np.eye(b.shape[0])
    if (a.ndim == 2) != (b.ndim == 2):
        raise ValueError("a matrix added to a vector")
    return a + b


def _mul(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim == 0 or b.ndim == 0 or (a.ndim == 1 and b.ndim == 1):
        return a * b
    if a.ndim == 1:  # gᵀ M, as a vector: Mᵀ g
        return b.T @ a
    return a @ b


def _solve_power(base, power: int, x):
    """:math:`B^{-n} x` by ``n`` solves (never an explicit inverse); a singular ``B`` is a ``ValueError``."""
    try:
        for _ in range(power):
            x = np.linalg.solve(base, x)
    except np.linalg.LinAlgError:
        raise ValueError("a written inverse of a singular matrix") from None
    return x


def _product(factors, values: dict):
    """The product of ``factors`` at ``values``, in order, with a matrix's negative power applied to the factor
    right after it by solves, :math:`B^{-n} x`; where the product so far is a vector (its product with a
    matrix is gᵀM), a factor after it is multiplied in order instead."""
    out, i = None, 0
    while i < len(factors):
        f = factors[i]
        if isinstance(f, sp.Pow) and f.exp.is_Integer and f.exp < 0 and i + 1 < len(factors) \
                and (out is None or np.ndim(out) != 1):
            base = np.asarray(evaluate(f.base, values), dtype=float)
            if base.ndim == 2:
                right = np.asarray(evaluate(factors[i + 1], values), dtype=float)
                v, i = _solve_power(base, int(-f.exp), right), i + 1
            else:
                v = base ** float(f.exp)
        else:
            v = evaluate(f, values)
        out = v if out is None else _mul(out, v)
        i += 1
    return out


def evaluate(expr, values: dict):
    r"""``expr`` (plain or non-commutative symbols) at ``values`` (name -> number, vector or matrix), with
    matrix products in the order of the expression's factors, a matrix's negative power by solves (``S**-1*g``
    is ``solve(S, g)``; ``S**-1`` alone is ``solve(S, I)``), and
    :data:`~blrkit.reverse.syntax.DIAG` its diagonal part.

    >>> import numpy as np, sympy as sp
    >>> S, g = sp.symbols("S g", commutative=False)
    >>> evaluate(S**-1 * g, {"S": np.array([[2.0, 1.0], [1.0, 2.0]]), "g": np.array([3.0, 0.0])})
    array([ 2., -1.])
    >>> evaluate(g / DIAG(S), {"S": np.array([[2.0, 1.0], [1.0, 2.0]]), "g": np.array([3.0, 0.0])})
    array([1.5, 0. ])
    """
    if isinstance(expr, sp.Symbol):
        return values[expr.name]
    if expr.is_number:
        return float(expr)
    if isinstance(expr, sp.Mul):
        return _product(expr.args, values)
    args = [evaluate(a, values) for a in expr.args]
    if isinstance(expr, sp.Add):
        return reduce(_add, args)
    if isinstance(expr, sp.Pow):
        base, exponent = np.asarray(args[0], dtype=float), np.asarray(args[1], dtype=float)
        if base.ndim < 2:
            return base ** exponent
        if exponent.ndim or not float(exponent).is_integer():
            raise ValueError(f"a matrix to the power {expr.exp}")
        power = int(abs(float(exponent)))
        if exponent > 0:
            return np.linalg.matrix_power(base, power)
        return _solve_power(base, power, np.eye(base.shape[0]))  # a written S⁻¹ on its own: Σ, by solves
    if expr.func == DIAG:
        x = np.asarray(args[0], dtype=float)
        return np.diag(np.diag(x)) if x.ndim == 2 else x
    if expr.func == DATA_SUM:  # a step reading data is run on one datum: the sum is its one term
        return args[0]
    functions = {sp.exp: np.exp, sp.log: np.log, sp.Abs: np.abs, sp.tanh: np.tanh}
    if expr.func in functions and np.ndim(args[0]) < 2:
        return functions[expr.func](args[0])
    raise ValueError(f"cannot evaluate {expr.func.__name__} here")


def _parameter(attempt, name, hval, hyper):
    expr = attempt.parameters.get(name, sp.Symbol(name))
    return float(sp.lambdify(hyper, expr, modules="numpy")(*[hval[h.name] for h in hyper]))


def _shaped(value, shape, kind, D):
    value = np.asarray(value, dtype=float)
    if value.ndim == 2:
        return value
    if kind == "matrix" or shape == "matrix":
        return np.diag(np.broadcast_to(value, (D,)).copy())
    if kind == "scalar":
        return float(np.ravel(value)[0])
    return np.broadcast_to(value, (D,)).copy()


def _constant(name, groups, values, shapes, D):
    """An oracle returning, for every call, the values its targets were given (broadcast over samples)."""
    group = groups[0] if groups else ()
    parts = [_shaped(values.get(t, np.zeros(D)), shapes.get(t, "vector"), "", D) for t in group]

    def oracle(x, *rest):
        lead = np.shape(x)[:-1]
        shaped = [np.broadcast_to(p, lead + p.shape) for p in parts]
        return tuple(shaped) if len(shaped) > 1 else shaped[0]

    oracle.__name__ = name
    return oracle
