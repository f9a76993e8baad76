"""Speed of blrkit.algorithms against the libraries people use, side by side in one run.

Run: ``python benchmarks/bench_algorithms.py`` (about a minute or two on 2 cores). Each line prints
both times, the ratio and the target from issue #4, and whether it is met. Times are the best of
several repeats (the slow peers: fewer repeats), after a warm-up call, all in one process.
"""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np

from blrkit.algorithms import gradient_descent, kalman_filter, laplace, newton, ridge
from blrkit.classical.problems import LogisticRegression, logistic_problem, random_state_space_model

RESULTS: list[tuple[str, bool]] = []

#: Set in main(): the load average exceeds 3/4 of the cores. Multi-threaded BLAS timings are then
#: dominated by scheduler contention (measured here: the same Newton loop varied 2-5x between
#: runs), so comparisons of BLAS-bound work (ridge, Newton) are judged with BLAS at one thread,
#: where both sides do the same arithmetic, and the multi-threaded figures are printed for information.
BUSY = False


def _once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def best_time(fn, repeats=5):
    """Best of ``repeats`` runs, after a warm-up run unless ``repeats`` is 1 (the slow peers)."""
    if repeats > 1:
        fn()
    return min(_once(fn) for _ in range(repeats))


def best_times(ours, peer, repeats=11):
    """Best times of two functions measured alternately, so that load from other processes on the
    machine falls on both alike (used where the target is a ratio near 1)."""
    ours(), peer()
    t_ours, t_peer = [], []
    for _ in range(repeats):
        t_ours.append(_once(ours))
        t_peer.append(_once(peer))
    return min(t_ours), min(t_peer)


def report(label, ours, peer, peer_name, *, faster_by=None, within=None):
    """Print ours vs peer; target either 'peer/ours ≥ faster_by' or 'ours/peer ≤ within' (or none)."""
    if faster_by is None and within is None:
        print(f"  {label:<34} blrkit {ours * 1e3:9.2f} ms | {peer_name:<28} {peer * 1e3:9.2f} ms | "
              f"blrkit/{peer_name} = {ours / peer:6.2f}    (for information)")
        return
    if faster_by is not None:
        ratio, ok = peer / ours, peer / ours >= faster_by
        goal = f"{peer_name}/blrkit = {ratio:6.2f}x   (target ≥ {faster_by:g}x)"
    else:
        ratio, ok = ours / peer, ours / peer <= within
        goal = f"blrkit/{peer_name} = {ratio:6.2f}    (target ≤ {within:g})"
    RESULTS.append((f"{label}: {peer_name}", ok))
    print(f"  {label:<34} blrkit {ours * 1e3:9.2f} ms | {peer_name:<28} {peer * 1e3:9.2f} ms | {goal} "
          f"{'ok' if ok else 'MISSED'}")


def best_times_in_blocks(ours, peer, repeats=11):
    """Best times of two functions, each measured in its own block of runs after a warm-up.

    For a peer on SciPy's BLAS (scikit-learn's solvers): NumPy and SciPy ship separate OpenBLAS
    builds whose idle threads spin for a while after each call, so alternating the two charges
    each side for the other's spinning threads (measured here: blrkit's ridge 34 ms when
    alternated with a NumPy peer, 62 ms when alternated with scikit-learn). In blocks, each
    library is timed as a program using it alone would see it.
    """
    return best_time(ours, repeats), best_time(peer, repeats)


def report_blas_bound(label, ours_fn, peer_fn, peer_name, *, blocks=False, **target):
    """A comparison of two BLAS-bound computations (``target``: ``within=`` or ``faster_by=``),
    measured alternately (``blocks``: in blocks, see :func:`best_times_in_blocks`); when BUSY,
    judged at one BLAS thread and the default shown for information."""
    measure = best_times_in_blocks if blocks else best_times
    ours, peer = measure(ours_fn, peer_fn)
    if not BUSY:
        report(label, ours, peer, peer_name, **target)
        return
    report(label, ours, peer, peer_name)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        ours, peer = measure(ours_fn, peer_fn)
    report(label + " [1 BLAS thread]", ours, peer, peer_name, **target)


def bench_ridge(rng):
    print("ridge, N = 20,000, D = 200")
    N, D, alpha = 20_000, 200, 1.0
    X, y = rng.standard_normal((N, D)), rng.standard_normal(N)
    from sklearn.linear_model import Ridge

    def plain():
        G = X.T @ X
        G[np.diag_indices(D)] += alpha
        return np.linalg.solve(G, X.T @ y)

    np.testing.assert_allclose(ridge(X, y, alpha).mean, plain(), rtol=1e-8)
    report_blas_bound("ridge", lambda: ridge(X, y, alpha), plain, "NumPy Gram + solve", within=1.2)
    sk = Ridge(alpha=alpha, fit_intercept=False, solver="cholesky")
    report_blas_bound("ridge", lambda: ridge(X, y, alpha), lambda: sk.fit(X, y), "sklearn Ridge(cholesky)", blocks=True,
                      faster_by=1.0)


def _filterpy_run(y, mod):
    from filterpy.kalman import KalmanFilter

    kf = KalmanFilter(dim_x=mod.F.shape[0], dim_z=mod.H.shape[0])
    kf.F, kf.Q, kf.H, kf.R = mod.F, mod.Q, mod.H, mod.R
    kf.x, kf.P = mod.m0.copy(), mod.P0.copy()
    means = np.empty((len(y), mod.F.shape[0]))
    for t in range(len(y)):
        if t:
            kf.predict()
        kf.update(y[t])
        means[t] = kf.x
    return means


def bench_kalman(rng):
    print("Kalman filter, D = 4, O = 2")
    from pykalman import KalmanFilter as PyKalman

    mod = random_state_space_model(rng, 4, 2)
    args = (mod.F, mod.Q, mod.H, mod.R, mod.m0, mod.P0)
    y = mod.sample(rng, 5_000)
    ours = best_time(lambda: kalman_filter(y, *args), 10)
    np.testing.assert_allclose(kalman_filter(y, *args).means, _filterpy_run(y, mod), rtol=1e-8, atol=1e-8)
    report("one series, T = 5,000", ours, best_time(lambda: _filterpy_run(y, mod), 2), "filterpy loop",
           faster_by=2.0)
    pk = PyKalman(transition_matrices=mod.F, observation_matrices=mod.H, transition_covariance=mod.Q,
                  observation_covariance=mod.R, initial_state_mean=mod.m0, initial_state_covariance=mod.P0)
    report("one series, T = 5,000", ours, best_time(lambda: pk.filter(y), 1), "pykalman.filter", faster_by=8.0)

    ys = mod.sample(rng, 200, batch=(1_000,))
    ours = best_time(lambda: kalman_filter(ys, *args), 5)
    peer = best_time(lambda: [_filterpy_run(ys[b], mod) for b in range(len(ys))], 1)
    report("1,000 series x T = 200", ours, peer, "filterpy looped over series", faster_by=30.0)

    tracemalloc.start()
    res = kalman_filter(ys, *args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out = res.means.nbytes + res.covariances.nbytes + res.log_likelihood.nbytes
    ok = peak <= 2 * out
    RESULTS.append(("batched Kalman peak memory", ok))
    print(f"  {'1,000 series x T = 200':<34} peak memory {peak / 2**20:.1f} MiB = {peak / out:.2f} x outputs "
          f"({out / 2**20:.1f} MiB)   (target ≤ 2x) {'ok' if ok else 'MISSED'}")


def bench_newton(rng):
    print("Newton, L2 logistic regression, N = 10,000, D = 50, to a gradient norm of 1e-10")
    from sklearn.linear_model import LogisticRegression as SkLogReg

    alpha = 1.0
    p = logistic_problem(rng, 10_000, 50, alpha=alpha)
    m0 = np.zeros(50)

    def hand():
        x = m0.copy()
        while True:
            g = p.grad(x)
            if np.linalg.norm(g) <= 1e-10:
                return x
            x = x - np.linalg.solve(p.hess(x), g)

    x_hand = hand()
    n_steps = 0
    while np.linalg.norm(p.grad(newton(p.grad, p.hess, m0, n_steps=n_steps).means[-1])) > 1e-10:
        n_steps += 1
    np.testing.assert_allclose(newton(p.grad, p.hess, m0, n_steps=n_steps).means[-1], x_hand, rtol=1e-8)
    ours_fn = lambda: newton(p.grad, p.hess, m0, n_steps=n_steps)  # noqa: E731
    report_blas_bound(f"newton(n_steps={n_steps})", ours_fn, hand, "hand-written NumPy Newton", within=1.2)
    # laplace stops by itself; it takes one Newton step more than the hand loop (it returns the
    # precision at the returned mean, so it evaluates the Hessian there): information only
    ours_l, peer_l = best_times(lambda: laplace(p.grad, p.hess, m0, tol=1e-10), hand, 3)
    report("laplace(tol=1e-10)", ours_l, peer_l, "hand-written NumPy Newton")
    sk = SkLogReg(solver="newton-cholesky", C=1 / alpha, fit_intercept=False, tol=1e-12, max_iter=100)
    report_blas_bound(f"newton(n_steps={n_steps})", ours_fn, lambda: sk.fit(p.X, p.y), "sklearn newton-cholesky", blocks=True,
                      faster_by=1.0)


def bench_gradient_descent(rng):
    print("batched gradient descent, 256 problems (N = 200, D = 10) x 500 steps")
    B = 256
    p = logistic_problem(rng, 200, 10, batch=(B,))
    m0 = np.zeros((B, 10))
    singles = [LogisticRegression(p.X[b], p.y[b], p.alpha) for b in range(B)]
    ours = best_time(lambda: gradient_descent(p.grad, m0, rho=1e-3, n_steps=500), 3)
    peer = best_time(lambda: [gradient_descent(s.grad, m0[b], rho=1e-3, n_steps=500) for b, s in enumerate(singles)],
                     1)
    report("one call", ours, peer, "Python loop over problems", faster_by=2.5)


def main():
    t0 = time.perf_counter()
    global BUSY
    load, cores = os.getloadavg()[0], os.cpu_count()
    BUSY = load > 0.75 * cores
    print(f"load average {load:.1f} on {cores} cores" + (
        "  -- busy: BLAS-bound comparisons are judged with one BLAS thread (see BUSY); rerun when idle"
        if BUSY else ""))
    rng = np.random.default_rng(20231)
    bench_ridge(rng)
    bench_kalman(rng)
    bench_newton(rng)
    bench_gradient_descent(rng)
    missed = [name for name, ok in RESULTS if not ok]
    print(f"\n{len(RESULTS) - len(missed)}/{len(RESULTS)} targets met in {time.perf_counter() - t0:.0f} s"
          + (f"; missed: {', '.join(missed)}" if missed else ""))


if __name__ == "__main__":
    main()
