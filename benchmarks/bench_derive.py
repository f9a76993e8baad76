"""Cold-start cost of the derive layer, and of the numerical certificate: ``python benchmarks/bench_derive.py``.

Issue targets: deriving every row of the table (every recipe in ``blrkit.derive.RECIPES``) and the
engine's examples (``blrkit.derive.examples.EXAMPLES``: GLMs, losses in θ, non-conjugate and user
families), from a cold start, takes under 10 s in total on the 2-core development machine; one GLM
derivation under 2 s. A fresh interpreter is started for the measurement (a subprocess), so nothing
is cached: it times ``import sympy``, ``import blrkit.derive`` and each derivation, and prints a
table and the total.

``--certify`` times the certificate (issue #22 targets): one certificate under 2 s (each request's
``certify()`` is timed; the largest is reported), and the whole support matrix (derive, emit, run and
certify every request of ``blrkit.derive.support.REQUESTS``) under 90 s on 2 cores.
"""

from __future__ import annotations

import json
import subprocess
import sys

TARGET_S = 10.0
GLM_TARGET_S = 2.0
CERTIFICATE_TARGET_S = 2.0
GRID_TARGET_S = 90.0

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

CHILD = r"""
import json, time
t0 = time.perf_counter()
import sympy
t1 = time.perf_counter()
import blrkit.derive
from blrkit.derive import RECIPES
t2 = time.perf_counter()
per = {}
for name, recipe in RECIPES.items():
    s = time.perf_counter()
    recipe.derive()
    per[name] = time.perf_counter() - s
from blrkit.derive.examples import EXAMPLES
for name, make in EXAMPLES.items():
    s = time.perf_counter()
    make()
    per["example " + name] = time.perf_counter() - s
print(json.dumps({"import sympy": t1 - t0, "import blrkit.derive": t2 - t1, "recipes": per}))
"""


def measure() -> dict:
    """Run the cold-start measurement in a new interpreter; return its timings in seconds."""
    out = subprocess.run([sys.executable, "-c", CHILD], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_grid() -> dict:
    """Run the whole support matrix in a new interpreter; return its timings in seconds."""
    out = subprocess.run([sys.executable, "-c", GRID_CHILD], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main_certify() -> int:
    t = measure_grid()
    rows = t["rows"]
    slowest = max(rows, key=lambda r: r[3])
    derive_s, certify_s = sum(r[2] for r in rows), sum(r[3] for r in rows)
    counts = {s: sum(r[1] == s for r in rows) for s in ("certified", "counterpart", "refused", "failed")}
    print(f"{len(rows)} requests: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    print(f"derive + emit, all requests   {derive_s:7.2f} s")
    print(f"certify, all requests         {certify_s:7.2f} s")
    print(f"slowest certificate           {slowest[3]:7.2f} s   ({slowest[0]})   target < {CERTIFICATE_TARGET_S:.0f} s: "
          f"{'met' if slowest[3] < CERTIFICATE_TARGET_S else 'NOT met'}")
    print(f"whole grid (cold)             {t['total']:7.2f} s   target < {GRID_TARGET_S:.0f} s: "
          f"{'met' if t['total'] < GRID_TARGET_S else 'NOT met'}")
    return 0 if slowest[3] < CERTIFICATE_TARGET_S and t["total"] < GRID_TARGET_S and not counts["failed"] else 1


def main() -> int:
    if "--certify" in sys.argv[1:]:
        return main_certify()
    t = measure()
    derive_total = sum(t["recipes"].values())
    total = t["import sympy"] + t["import blrkit.derive"] + derive_total
    rows = [("import sympy", t["import sympy"]), ("import blrkit.derive", t["import blrkit.derive"])]
    rows += [(f"derive {name}", s) for name, s in t["recipes"].items()]
    width = max(max(len(r) for r, _ in rows), len("one GLM derivation (logistic IRLS)"))
    for label, s in rows:
        print(f"{label:<{width}}  {s:7.3f} s")
    glm = t["recipes"]["example logistic_irls"]
    print(f"{'derive, all recipes and examples':<{width}}  {derive_total:7.3f} s")
    print(f"{'one GLM derivation (logistic IRLS)':<{width}}  {glm:7.3f} s   target < {GLM_TARGET_S:.0f} s: "
          f"{'met' if glm < GLM_TARGET_S else 'NOT met'}")
    print(f"{'total (cold)':<{width}}  {total:7.3f} s   target < {TARGET_S:.0f} s: "
          f"{'met' if total < TARGET_S else 'NOT met'}")
    return 0 if total < TARGET_S and glm < GLM_TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
