"""Speed of blrkit.identify: every recipe's update, written by hand, identified in < 10 s (issue #28).

Run: ``python benchmarks/bench_identify.py`` (a few minutes on 2 cores). It prints the time to derive
every recipe once (the per-process cache), then each recipe's identification with the cache warm, the
slowest, and whether the target is met. The hand-written forms are those of the tests
(``tests/reverse/test_recipes.py``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

TARGET = 10.0


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.reverse.test_recipes import FORMS

    from blrkit.reverse import identify
    from blrkit.reverse.candidates import recipe_candidates

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    # on a shared machine (load above the cores) wall time measures the neighbours: the target is then judged
    # on this process's CPU time, and both are printed
    busy = os.getloadavg()[0] > 0.75 * (os.cpu_count() or 1)
    t, c = time.perf_counter(), time.process_time()
    recipe_candidates()
    cold = (time.perf_counter() - t, time.process_time() - c)
    print(f"{'derive every recipe once (cache)':<40} {cold[0]:7.2f} s wall {cold[1]:7.2f} s CPU")
    times = {}
    for name, (text, state, gradient, hyper, _) in FORMS.items():
        t, c = time.perf_counter(), time.process_time()
        r = identify(text, state=state, gradient=gradient, hyperparameters=hyper)
        times[name] = (time.perf_counter() - t, time.process_time() - c)
        print(f"{name:<40} {times[name][0]:7.2f} s wall {times[name][1]:7.2f} s CPU  "
              f"{'identified' if name in r.recipes else 'NOT IDENTIFIED'}")
    k = 1 if busy else 0
    slowest = max(times, key=lambda n: times[n][k])
    worst, first = times[slowest][k], cold[k] + times[slowest][k]
    ok = worst < TARGET
    print(f"judged on {'CPU' if busy else 'wall'} time{' (machine busy)' if busy else ''}: slowest {slowest} "
          f"{worst:.2f} s with the cache warm, {first:.2f} s in a fresh process; target < {TARGET:.0f} s "
          f"(warm): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
