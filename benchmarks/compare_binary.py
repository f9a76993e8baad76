"""STE against BayesBiNN on the digits binary-weight network: test accuracy, NLL and ECE over several seeds
(issue #12, "Workload").

Run: ``python benchmarks/compare_binary.py [--seeds 5]`` (about 4 s a seed on 2 cores). Each seed draws its own
train/test split of digits (1,257/540), start sign vector, minibatches and relaxation noise; both methods start
from that sign vector and see the same minibatches (blrkit.models.binary_comparison, default settings). BayesBiNN
is scored by its model average over 32 samples of q, and at sign μ and μ in the rows marked ``@sign``, ``@mean``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from blrkit.models import BinaryMLP, digits
from blrkit.models.binary_comparison import compare_binary

NAMES = ("ste", "bayesbinn", "bayesbinn@sign", "bayesbinn@mean")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    args = ap.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    bnet = BinaryMLP((64, 64, 10), scales=(1 / 8, 1.0))
    t0, rows = time.perf_counter(), {k: [] for k in NAMES}
    for seed in seeds:
        d = digits(seed=seed)
        for k, v in compare_binary(bnet, d.X_train, d.y_train, d.X_test, d.y_test, rng=seed).items():
            rows[k].append(v)
    print(f"digits, binary 64-64-10 (seeds {seeds.start}..{seeds.stop - 1}, {time.perf_counter() - t0:.0f} s): "
          "mean ± sd over seeds")
    print(f"  {'method':<15} {'accuracy':>15} {'NLL':>15} {'ECE':>15}")
    for k in NAMES:
        a = np.array(rows[k])
        sd = a.std(0, ddof=1) if len(a) > 1 else np.zeros(3)
        print(f"  {k:<15} " + " ".join(f"{a[:, j].mean():7.4f} ± {sd[j]:5.4f}" for j in range(3)))
    a, b = np.array(rows["bayesbinn"]), np.array(rows["ste"])
    print(f"  BayesBiNN (model average) has a lower ECE than STE on {int(np.sum(a[:, 2] < b[:, 2]))} of "
          f"{len(a)} seeds, a lower NLL on {int(np.sum(a[:, 1] < b[:, 1]))}; accuracy difference "
          f"{np.mean(a[:, 0] - b[:, 0]):+.4f} on average")


if __name__ == "__main__":
    main()
