"""Speed and memory of blrkit.duality (issue #14): the sites of a large logistic regression, and
leave-one-out for free against N refits with ``newton``.

Run: ``python benchmarks/bench_duality.py`` (1–3 minutes on 2 cores, most of it fitting the N = 10⁶ model
once; 0.5 GB for its design).
Each line prints the measurement, the target and whether it is met. Times are the best of a few
repeats; the machine's load average is printed first (other processes disturb the timings).

* Sites for N = 10⁶, D = 50 in < 2 s, with peak extra memory O(N·D) (never N·D²): the memory is
  traced by ``tracemalloc`` during the call and compared with the N·D floats of X itself.
* LOO predictive of all N = 10⁴ examples (D = 50) ≥ 100× faster than N refits with
  :func:`blrkit.algorithms.newton`, each warm-started at the full-data solution and run to
  convergence (4 steps: quadratic convergence from there). The refits are timed on a sample of
  them and the time scaled to N; their LOO predictives give the error of the one-site approximation.
"""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np
from scipy.special import expit

from blrkit.algorithms import newton
from blrkit.classical.problems import LogisticRegression
from blrkit.duality import fit_glm, leave_one_out, local_parameters

RESULTS: list[tuple[str, bool]] = []


def best_time(fn, repeats=3):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def verdict(label, ok, text):
    RESULTS.append((label, ok))
    print(f"  {label:<44} {text}  [{'met' if ok else 'NOT met'}]")


def problem(rng, N, D, delta=1.0):
    X = rng.standard_normal((N, D)) / np.sqrt(D)
    w = rng.standard_normal(D) * 2
    y = (rng.random(N) < expit(X @ w)).astype(float)
    return X, y, delta


def bench_sites():
    N, D = 10 ** 6, 50
    X, y, delta = problem(np.random.default_rng(0), N, D)
    t0 = time.perf_counter()
    post = fit_glm(X, y, likelihood="logistic", prior_precision=delta, tol=1e-8)
    print(f"  (fit: Laplace by Newton in {time.perf_counter() - t0:.1f} s, {post.n_steps} steps)")

    def sites():
        return local_parameters(X, y, post, likelihood="logistic", prior_precision=delta)

    t = best_time(sites)
    tracemalloc.start()
    s = sites()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    nd = N * D * 8
    verdict(f"sites, logistic, N = {N:.0e}, D = {D}", t < 2.0, f"{t:.3f} s (target < 2 s)")
    verdict("  peak extra memory (tracemalloc)", peak < nd,
            f"{peak / 2 ** 20:.0f} MB = {peak / nd:.2f} × N·D floats; N·D² would be {nd * D / 2 ** 30:.0f} GB")
    t0 = time.perf_counter()
    s.variance
    print(f"  (predictive variances x_iᵀS⁻¹x_i of all N, O(N D²): {time.perf_counter() - t0:.2f} s)")


def bench_loo():
    N, D = 10 ** 4, 50
    X, y, delta = problem(np.random.default_rng(1), N, D)
    post = fit_glm(X, y, likelihood="logistic", prior_precision=delta, tol=1e-10)

    def loo():
        return leave_one_out(local_parameters(X, y, post, likelihood="logistic", prior_precision=delta))

    t_loo = best_time(loo)
    fast = loo()
    sample = np.random.default_rng(2).choice(N, size=40, replace=False)
    lp_refit, lp_fast, t0 = [], [], time.perf_counter()
    for i in sample:
        keep = np.arange(N) != i
        p = LogisticRegression(X[keep], y[keep], delta)
        res = newton(p.grad, p.hess, post.mean, n_steps=4)
        m, S = res.means[-1], res.precisions[-1]
        assert np.linalg.norm(p.grad(m)) < 1e-8, "a refit did not converge"
        a, v = X[i] @ m, X[i] @ np.linalg.solve(S, X[i])
        t, w = np.polynomial.hermite.hermgauss(64)
        pr = expit(a + np.sqrt(2 * v) * t) @ w / np.sqrt(np.pi)
        lp_refit.append(np.log(pr if y[i] else 1 - pr))
        lp_fast.append(fast.log_predictive[i])
    t_refits = (time.perf_counter() - t0) / len(sample) * N
    err = np.abs(np.array(lp_fast) - np.array(lp_refit))
    verdict(f"LOO predictive, all N = {N:.0e}, D = {D}", t_refits / t_loo >= 100,
            f"{t_loo:.3f} s vs N refits {t_refits:.0f} s (from {len(sample)} timed) = {t_refits / t_loo:.0f}× "
            "(target ≥ 100×)")
    print(f"  (one-site error of log p(y_i | y_\\i) vs the refits: max {err.max():.1e}, mean {err.mean():.1e}; "
          f"mean log predictive {np.mean(lp_refit):.4f})")


def main():
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    t0 = time.perf_counter()
    bench_sites()
    bench_loo()
    missed = [label for label, ok in RESULTS if not ok]
    print(f"\n{len(RESULTS) - len(missed)}/{len(RESULTS)} targets met in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    from _cli import parser

    parser(__doc__).parse_args()
    main()
