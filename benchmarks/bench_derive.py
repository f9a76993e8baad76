"""Cold-start cost of the derive layer: ``python benchmarks/bench_derive.py``.

Issue targets: deriving every row of the table (every recipe in ``blrkit.derive.RECIPES``) and the
engine's examples (``blrkit.derive.examples.EXAMPLES``: GLMs, losses in θ, non-conjugate and user
families), from a cold start, takes under 10 s in total on the 2-core development machine; one GLM
derivation under 2 s. A fresh interpreter is started for the measurement (a subprocess), so nothing
is cached: it times ``import sympy``, ``import blrkit.derive`` and each derivation, and prints a
table and the total.
"""

from __future__ import annotations

import json
import subprocess
import sys

TARGET_S = 10.0
GLM_TARGET_S = 2.0

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


def main() -> int:
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
