"""blrkit's IVON against the authors' ivon-opt (PyTorch) on the digits MLP: same θ₀, same hyperparameters
(``Settings``: the authors' recipe), same minibatch size and number of steps; the noise streams differ, so
the test scores of the model averages (64 samples) are compared over seeds (paired by θ₀).

Run: ``python benchmarks/compare_ivon_opt.py [--seeds 5] [--alpha 0.01] [--epochs 800]`` (needs
``pip install -e ".[torch]"``; about 1.5 min per seed on one core). Measured (α = 0.01, 800 epochs,
seeds 0–4): accuracy 0.9726 against 0.9737, NLL 0.1025 against 0.1013, ECE 0.0099 against 0.0110;
paired differences (blrkit − ivon-opt, ± standard error) accuracy −0.0011 ± 0.0011, NLL +0.0012 ± 0.0018,
ECE −0.0011 ± 0.0009: none beyond the seeds' noise.
"""

from __future__ import annotations

import argparse

import numpy as np

from blrkit.models import MLP, Objective, bayesian_model_average, digits, sample_diagonal_gaussian
from blrkit.models.comparison import Settings, score, train


def ivon_opt_scores(torch, ivon_opt, net, d, theta0, settings, alpha, seed):
    """Train the same one-hidden-layer tanh network with ``ivon.IVON`` (float64) and score its model average."""
    N, B = len(d.y_train), settings.batch_size
    ps = [torch.tensor(a.copy(), dtype=torch.float64, requires_grad=True) for layer in net.unflatten(theta0)
          for a in layer]
    X, y = torch.tensor(d.X_train), torch.tensor(d.y_train)
    torch.manual_seed(seed)
    opt = ivon_opt.IVON(ps, lr=settings.ivon_lr, ess=N, hess_init=settings.ivon_hess_init, beta1=0.9,
                        beta2=settings.ivon_beta2, weight_decay=alpha / N)

    def logits(Xb):
        return torch.tanh(Xb @ ps[0] + ps[1]) @ ps[2] + ps[3]

    batches = np.random.default_rng(seed + 3000)
    for _ in range(settings.n_steps):
        idx = torch.tensor(np.sort(batches.choice(N, B, replace=False)))
        with opt.sampled_params(train=True):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(logits(X[idx]), y[idx]).backward()
        opt.step()
    Xt, probs = torch.tensor(d.X_test), []
    with torch.no_grad():
        for _ in range(settings.n_bma):
            with opt.sampled_params():
                probs.append(torch.softmax(logits(Xt), -1))
    return score(torch.stack(probs).mean(0).numpy(), d.y_test)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=800)
    args = ap.parse_args()
    import ivon as ivon_opt
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    torch.set_num_threads(1)  # tiny matrices: threads only contend
    ours, theirs = [], []
    for seed in range(args.seeds):
        d = digits(seed=seed)
        net = MLP((64, 128, 10))
        obj = Objective(net, d.X_train, d.y_train, prior_precision=args.alpha)
        theta0 = net.init(np.random.default_rng(seed))
        st = Settings(n_steps=round(args.epochs * obj.n_data / 128), batch_size=128)
        m, s = train("ivon", obj, theta0, st, rng=np.random.default_rng(seed + 1000))
        thetas = sample_diagonal_gaussian(m, s, st.n_bma, np.random.default_rng(seed + 2000))
        ours.append(score(bayesian_model_average(net, thetas, d.X_test), d.y_test))
        theirs.append(ivon_opt_scores(torch, ivon_opt, net, d, theta0, st, args.alpha, seed))
        print(f"seed {seed}: blrkit {np.round(ours[-1], 4).tolist()}  ivon-opt {np.round(theirs[-1], 4).tolist()}",
              flush=True)
    a, b = np.array(ours), np.array(theirs)
    for j, name in enumerate(("accuracy", "NLL", "ECE")):
        diff = a[:, j] - b[:, j]
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
        print(f"{name}: blrkit {a[:, j].mean():.4f}, ivon-opt {b[:, j].mean():.4f}, "
              f"paired difference {diff.mean():+.4f} ± {se:.4f} (standard error)")


if __name__ == "__main__":
    main()
