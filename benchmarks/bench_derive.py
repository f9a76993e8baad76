"""Cold-start cost of the derive layer, and of the numerical certificate: ``python benchmarks/bench_derive.py``.

Issue #23's targets (a benchmark, not a timed test):

* every recipe of ``blrkit.derive.RECIPES`` derives cold in under 5 s in total: the derivations alone, in a
  fresh interpreter (SymPy's caches cold), the median of three fresh interpreters; ``import sympy`` and
  ``import blrkit.derive`` are timed and reported apart;
* any single request of the support matrix (``blrkit.derive.support.REQUESTS``: derive and compile, what
  :func:`blrkit.derive.support.run` times as ``derive_seconds``) derives in under 3 s. The whole grid runs in
  one interpreter, as ``python -m blrkit.derive.support`` does; its slowest requests are then timed again,
  each alone in a fresh interpreter (cold: the figure held against the target);
* the slowest recipe, derived cold, is held against the same 3 s;
* from the earlier issue: the engine's examples (``blrkit.derive.examples.EXAMPLES``) are reported, and one GLM
  derivation (logistic IRLS) under 2 s.

Times are CPU seconds of the child interpreter (``time.process_time``: the development machine's two cores are
shared, and CPU time moves less with the load than wall time; SymPy runs in one thread), wall seconds beside.
``--check`` exits 1 when a target is missed (0 otherwise; without it the exit status is always 0);
``--quick`` skips the support matrix.

``--certify`` times the certificate (issue #22 targets): one certificate under 2 s (each request's
``certify()`` is timed; the largest is reported), and the whole support matrix (derive, emit, run and
certify every request of ``blrkit.derive.support.REQUESTS``) under 90 s on 2 cores.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

RECIPES_TARGET_S = 5.0
SINGLE_TARGET_S = 3.0
GLM_TARGET_S = 2.0
CERTIFICATE_TARGET_S = 2.0
GRID_TARGET_S = 90.0
#: fresh interpreters per cold measurement (the median is reported)
REPEATS = 3
#: the slowest requests of the in-process grid timed again cold, each alone
RETIME = 3

GRID_CHILD = r"""
import json, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
from blrkit.derive.support import REQUESTS, run
rows = [run(r) for r in REQUESTS]
total = time.perf_counter() - t0
print(json.dumps({"total": total, "rows": [[r.request.label, r.status, r.derive_seconds, r.certify_seconds]
                                           for r in rows]}))
"""

#: one interpreter: the imports, then every recipe (and example) derived, each timed
CHILD = r"""
import json, time
def clocks():
    return time.process_time(), time.perf_counter()
c0 = clocks()
import sympy
c1 = clocks()
import blrkit.derive
from blrkit.derive import RECIPES
c2 = clocks()
per, examples = {}, {}
for name, recipe in RECIPES.items():
    s = clocks()
    recipe.derive()
    e = clocks()
    per[name] = (e[0] - s[0], e[1] - s[1])
c3 = clocks()
from blrkit.derive.examples import EXAMPLES
for name, make in EXAMPLES.items():
    s = clocks()
    make()
    e = clocks()
    examples[name] = (e[0] - s[0], e[1] - s[1])
diff = lambda a, b: (b[0] - a[0], b[1] - a[1])
print(json.dumps({"import sympy": diff(c0, c1), "import blrkit.derive": diff(c1, c2), "all recipes": diff(c2, c3),
                  "recipes": per, "examples": examples}))
"""

#: one interpreter: the support-matrix request of index ``sys.argv[1]``, derived and compiled cold
REQUEST_CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
from blrkit.derive.support import REQUESTS, arguments
from blrkit.derive.blr import derive
from blrkit.derive.errors import DerivationError
request = REQUESTS[int(sys.argv[1])]
c0, w0 = time.process_time(), time.perf_counter()
try:
    family, loss, prior, approx = arguments(request)
    derive(family, loss, prior, approx, rule=request.rule).compile()
except DerivationError:
    pass
print(json.dumps([time.process_time() - c0, time.perf_counter() - w0]))
"""


def _child(code: str, *args: str):
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure() -> dict:
    """Run the cold-start measurement in a new interpreter; return its (CPU, wall) timings in seconds."""
    return _child(CHILD)


def measure_request(index: int) -> tuple:
    """(CPU, wall) seconds deriving and compiling support request ``index`` alone in a new interpreter."""
    return tuple(_child(REQUEST_CHILD, str(index)))


def measure_grid() -> dict:
    """Run the whole support matrix in a new interpreter; return its timings in seconds."""
    return _child(GRID_CHILD)


def _median(runs: list, key) -> tuple:
    """The run whose ``key`` (CPU seconds) is the median of ``runs``, as (CPU, wall)."""
    return sorted((key(r) for r in runs), key=lambda cw: cw[0])[len(runs) // 2]


def _verdict(seconds: float, target: float) -> str:
    return f"target < {target:g} s: {'met' if seconds < target else 'NOT met'}"


def main_certify() -> int:
    t = measure_grid()
    rows = t["rows"]
    slowest = max(rows, key=lambda r: r[3])
    derive_s, certify_s = sum(r[2] for r in rows), sum(r[3] for r in rows)
    counts = {s: sum(r[1] == s for r in rows) for s in ("certified", "counterpart", "refused", "failed")}
    print(f"{len(rows)} requests: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    print(f"derive + emit, all requests   {derive_s:7.2f} s")
    print(f"certify, all requests         {certify_s:7.2f} s")
    print(f"slowest certificate           {slowest[3]:7.2f} s   ({slowest[0]})   "
          f"{_verdict(slowest[3], CERTIFICATE_TARGET_S)}")
    print(f"whole grid (cold)             {t['total']:7.2f} s   {_verdict(t['total'], GRID_TARGET_S)}")
    return 0 if slowest[3] < CERTIFICATE_TARGET_S and t["total"] < GRID_TARGET_S and not counts["failed"] else 1


def slowest_request(repeats: int = REPEATS, retime: int = RETIME) -> tuple:
    """(label, CPU s, wall s, in-grid s) of the support request slowest when derived cold and alone: the
    ``retime`` slowest of the in-process grid, each timed in ``repeats`` fresh interpreters (median)."""
    from blrkit.derive.support import REQUESTS

    grid = measure_grid()["rows"]
    top = sorted(range(len(grid)), key=lambda i: -grid[i][2])[:retime]
    cold = {i: _median([measure_request(i) for _ in range(repeats)], lambda r: r) for i in top}
    worst = max(cold, key=lambda i: cold[i][0])
    assert REQUESTS[worst].label == grid[worst][0]
    return grid[worst][0], cold[worst][0], cold[worst][1], grid[worst][2]


def main(argv=None) -> int:
    from _cli import parser

    options = parser(__doc__)
    options.add_argument("--certify", action="store_true", help="time the numerical certificate instead")
    options.add_argument("--quick", action="store_true", help="skip the support matrix")
    options.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = options.parse_args(sys.argv[1:] if argv is None else argv)
    if args.certify:
        return main_certify()
    runs = [measure() for _ in range(REPEATS)]
    total = _median(runs, lambda r: r["all recipes"])
    sym, imp = _median(runs, lambda r: r["import sympy"]), _median(runs, lambda r: r["import blrkit.derive"])
    median_run = min(runs, key=lambda r: abs(r["all recipes"][0] - total[0]))
    per = median_run["recipes"]
    worst = max(per, key=lambda n: per[n][0])
    glm = _median(runs, lambda r: r["examples"]["logistic_irls"])
    examples = _median(runs, lambda r: [sum(v[k] for v in r["examples"].values()) for k in (0, 1)])
    width = 44
    print(f"CPU s (wall s); median of {REPEATS} fresh interpreters")
    for name in sorted(per, key=lambda n: -per[n][0])[:10]:
        print(f"{'  derive ' + name:<{width}} {per[name][0]:6.2f} ({per[name][1]:5.2f})")
    print(f"{'import sympy':<{width}} {sym[0]:6.2f} ({sym[1]:5.2f})")
    print(f"{'import blrkit.derive':<{width}} {imp[0]:6.2f} ({imp[1]:5.2f})")
    print(f"{'examples, all (' + str(len(median_run['examples'])) + ')':<{width}} {examples[0]:6.2f} ({examples[1]:5.2f})")
    print(f"{'one GLM derivation (logistic IRLS)':<{width}} {glm[0]:6.2f} ({glm[1]:5.2f})   "
          f"{_verdict(glm[0], GLM_TARGET_S)}")
    print(f"{'slowest recipe (' + worst + ')':<{width}} {per[worst][0]:6.2f} ({per[worst][1]:5.2f})   "
          f"{_verdict(per[worst][0], SINGLE_TARGET_S)}")
    print(f"{'all ' + str(len(per)) + ' recipes, derivations, cold':<{width}} {total[0]:6.2f} ({total[1]:5.2f})   "
          f"{_verdict(total[0], RECIPES_TARGET_S)}")
    met = [total[0] < RECIPES_TARGET_S, per[worst][0] < SINGLE_TARGET_S, glm[0] < GLM_TARGET_S]
    if not args.quick:
        label, cpu, wall, in_grid = slowest_request()
        print(f"{'slowest support request, cold and alone':<{width}} {cpu:6.2f} ({wall:5.2f})   "
              f"{_verdict(cpu, SINGLE_TARGET_S)}\n    {label} ({in_grid:.2f} s wall in the grid run)")
        met.append(cpu < SINGLE_TARGET_S)
    return 0 if not args.check or all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
