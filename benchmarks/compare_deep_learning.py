"""SGD, RMSprop, Adam, VOGN and IVON on two small classification problems: test accuracy, NLL and
ECE over seeds, for three priors and two training lengths (issue #11, "a network").

Run: ``python benchmarks/compare_deep_learning.py [--seeds 5] [--problems digits moons]
[--alphas 1 0.1 0.01] [--epochs 200 800]`` (about 25 s per seed and setting on the digits, 20 s on the
moons, one core). The protocol is fixed in advance, and nothing in it is chosen on the test set:

* every optimiser minimises the same objective (prior N(0, α⁻¹I), blrkit.models.comparison) from the
  same θ₀ per seed, with minibatches of the same size, for the same number of epochs;
* RMSprop and Adam take PyTorch's default steps, SGD 0.1 on the mean loss (PyTorch has no default);
* IVON takes the authors' recipe for image classification (ess = N, h₀ = 0.1, β₂ = 0.99999, lr 0.2 in
  ivon-opt's units; ``Settings``), VOGN ρ = 0.01 with the improved rule;
* VOGN and IVON are scored by their Bayesian model average over 64 posterior samples (``@mean``: at
  the mean);
* the whole grid is printed: α = 1, 0.1, 0.01 (the authors' weight decay 2·10⁻⁴ is α ≈ 0.25 on the
  digits, 0.06 on the moons) and 200 or 800 epochs (Adam to convergence).

For each setting: mean ± sd over seeds, and the paired difference to Adam (mean ± standard error,
and on how many seeds the ECE is lower).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from blrkit.models import MLP, Objective, digits, moons
from blrkit.models.comparison import Settings, compare_optimisers

PROBLEMS = {
    # name: (data set of a seed, network sizes, minibatch size)
    "digits": (lambda seed: digits(seed=seed), (64, 128, 10), 128),
    "moons": (lambda seed: moons(600, noise=0.25, seed=seed), (2, 32, 32, 2), 32),
}
ROWS = ("sgd", "rmsprop", "adam", "vogn", "vogn@mean", "ivon", "ivon@mean")


def run(problem: str, alpha: float, epochs: int, seeds) -> dict:
    """``{name: array (n_seeds, 3)}`` of (accuracy, NLL, ECE)."""
    data_of, sizes, batch = PROBLEMS[problem]
    rows: dict[str, list] = {}
    for seed in seeds:
        d = data_of(seed)
        net = MLP(sizes)
        obj = Objective(net, d.X_train, d.y_train, prior_precision=alpha)
        settings = Settings(n_steps=int(round(epochs * obj.n_data / batch)), batch_size=batch)
        res = compare_optimisers(obj, net.init(np.random.default_rng(seed)), d.X_test, d.y_test,
                                 settings=settings, rng=seed)
        for k, v in res.items():
            rows.setdefault(k, []).append(v)
    return {k: np.array(v) for k, v in rows.items()}


def report(rows: dict) -> None:
    sd = (lambda a: a.std(ddof=1)) if len(rows["adam"]) > 1 else (lambda a: 0.0)
    print(f"  {'optimiser':<10} {'accuracy':>16} {'NLL':>16} {'ECE':>16}")
    for k in ROWS:
        a = rows[k]
        print(f"  {k:<10} " + " ".join(f"{a[:, j].mean():7.4f} ± {sd(a[:, j]):6.4f}" for j in range(3)))
    adam, n = rows["adam"], len(rows["adam"])
    for k in ("vogn", "ivon", "ivon@mean"):
        d = rows[k] - adam
        se = [sd(d[:, j]) / np.sqrt(n) for j in range(3)]
        print(f"  {k} − adam: accuracy {d[:, 0].mean():+.4f} ± {se[0]:.4f}, NLL {d[:, 1].mean():+.4f} ± {se[1]:.4f}, "
              f"ECE {d[:, 2].mean():+.4f} ± {se[2]:.4f} (lower on {int(np.sum(d[:, 2] < 0))} of {n} seeds)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    ap.add_argument("--alphas", nargs="*", type=float, default=[1.0, 0.1, 0.01])
    ap.add_argument("--epochs", nargs="*", type=int, default=[200, 800])
    args = ap.parse_args()
    try:  # tiny matrices: BLAS threads only contend (scikit-learn brings threadpoolctl)
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for problem in args.problems:
        for alpha in args.alphas:
            for epochs in args.epochs:
                t0 = time.perf_counter()
                rows = run(problem, alpha, epochs, seeds)
                print(f"\n{problem}, α = {alpha:g}, {epochs} epochs (seeds {seeds.start}..{seeds.stop - 1}, "
                      f"{time.perf_counter() - t0:.0f} s): mean ± sd over seeds")
                report(rows)


if __name__ == "__main__":
    main()
