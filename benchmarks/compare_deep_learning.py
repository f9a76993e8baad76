"""SGD, RMSprop, Adam, VOGN and IVON on two small classification problems: test accuracy, NLL and
ECE over several seeds (issue #11, "a network").

Run: ``python benchmarks/compare_deep_learning.py [--seeds 3] [--quick]`` (a few minutes on 2 cores;
``--quick``: the small digits setting only). Every optimiser starts from the same θ₀ per seed and
minimises the same objective (blrkit.models.comparison); VOGN and IVON are scored by their
Bayesian model average (32 samples), and at their mean in the rows marked ``@mean``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from blrkit.models import MLP, Objective, digits, moons
from blrkit.models.comparison import Settings, compare_optimisers

PROBLEMS = {
    # name: (data set, network sizes, prior precision α, settings)
    "digits": (lambda seed: digits(seed=seed), (64, 128, 10), 1.0, Settings(n_steps=2000, batch_size=128)),
    "digits-small": (lambda seed: digits(test_fraction=0.8, seed=seed), (64, 128, 10), 1.0,
                     Settings(n_steps=1500, batch_size=64)),
    # a weak prior and a small training set, where Adam has room to overfit
    "digits-small-weak-prior": (lambda seed: digits(test_fraction=0.8, seed=seed), (64, 128, 10), 0.01,
                                Settings(n_steps=2000, batch_size=89, ivon_hess_init=0.1)),
    "moons": (lambda seed: moons(600, noise=0.25, seed=seed), (2, 32, 32, 2), 1.0,
              Settings(n_steps=3000, batch_size=32, adam_lr=3e-3, rmsprop_lr=3e-3)),
}


def run(problem: str, seeds) -> dict:
    data_of, sizes, alpha, settings = PROBLEMS[problem]
    rows: dict[str, list] = {}
    for seed in seeds:
        d = data_of(seed)
        net = MLP(sizes)
        obj = Objective(net, d.X_train, d.y_train, prior_precision=alpha)
        res = compare_optimisers(obj, net.init(np.random.default_rng(seed)), d.X_test, d.y_test,
                                 settings=settings, rng=seed)
        for k, v in res.items():
            rows.setdefault(k, []).append(v)
    return {k: np.array(v) for k, v in rows.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--problems", nargs="*", default=None)
    args = ap.parse_args()
    problems = args.problems or (["digits-small"] if args.quick else list(PROBLEMS))
    for problem in problems:
        t0 = time.perf_counter()
        rows = run(problem, range(args.first_seed, args.first_seed + args.seeds))
        print(f"\n{problem} (seeds {args.first_seed}..{args.first_seed + args.seeds - 1}, {time.perf_counter() - t0:.0f} s): mean ± sd over seeds")
        print(f"  {'optimiser':<11} {'accuracy':>15} {'NLL':>15} {'ECE':>15}   ECE per seed")
        for k in ("sgd", "rmsprop", "adam", "vogn", "vogn@mean", "ivon", "ivon@mean"):
            a = rows[k]
            cells = " ".join(f"{a[:, j].mean():7.4f} ± {a[:, j].std(ddof=1) if len(a) > 1 else 0:5.4f}" for j in range(3))
            print(f"  {k:<11} {cells}   {np.round(a[:, 2], 4).tolist()}")
        for k in ("vogn", "ivon"):
            better = int(np.sum(rows[k][:, 2] < rows["adam"][:, 2]))
            print(f"  {k} (BMA) has a lower ECE than Adam on {better} of {args.seeds} seeds; "
                  f"accuracy difference {np.mean(rows[k][:, 0] - rows['adam'][:, 0]):+.4f} on average")


if __name__ == "__main__":
    main()
