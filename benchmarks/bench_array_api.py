"""The emitted steps on arrays of other libraries: what the Array API costs, and what another library gives.

Run: ``python benchmarks/bench_array_api.py`` (seconds; the libraries that are installed: array-api-strict
from the test extra, PyTorch and JAX if present).

Two workloads, each an emitted step called on one batch of problems in float64:

* ``kalman_update``, B = 10,000 series, D = 4, O = 2 (the measurement update of the Kalman row);
* ``vogn_step``, B = 1,000 problems, D = 100, 4 Monte-Carlo samples, a quadratic loss.

For each library the time per call is the best of 7 repeats (after a warm-up call), and the ratio is to
the same step on NumPy arrays. array-api-strict wraps NumPy and checks every call, so its ratio is the
price of that checking, not of blrkit; PyTorch and JAX (eager, CPU) run their own kernels. NumPy's own
row checks the cost of the namespace dispatch: the old NumPy-only step (``np.swapaxes`` where it now
has ``.mT``) is not kept, so the comparison is against a hand-written NumPy update in the same run.
Informational: issue #15 sets no speed target for other libraries. The load average is printed.
"""

from __future__ import annotations

import os
import timeit

import numpy as np

from blrkit.algorithms._generated.kalman_update import kalman_update
from blrkit.algorithms._generated.vogn import vogn_step

REPEATS = 7


def best(f, number):
    f()
    return min(timeit.repeat(f, number=number, repeat=REPEATS)) / number


def kalman_by_hand(m, P, y, H, R):
    """The textbook update in NumPy, for the dispatch cost of the emitted step on NumPy arrays."""
    PHt = P @ np.swapaxes(H, -1, -2)
    C = H @ PHt + R
    K = np.swapaxes(np.linalg.solve(C, np.swapaxes(PHt, -1, -2)), -1, -2)
    I_KH = np.eye(m.shape[-1]) - K @ H
    return (m + (K @ (y - (H @ m[..., None])[..., 0])[..., None])[..., 0],
            I_KH @ P @ np.swapaxes(I_KH, -1, -2) + K @ R @ np.swapaxes(K, -1, -2))


def libraries():
    """name -> (to, synchronise) for every installed library."""
    out = {"numpy": (lambda a: a, lambda x: x)}
    try:
        import array_api_strict as xps
        out["array_api_strict"] = (xps.asarray, lambda x: x)
    except ImportError:
        pass
    try:
        import torch
        out["torch"] = (lambda a: torch.asarray(np.array(a)), lambda x: x)
    except ImportError:
        pass
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        out["jax"] = (jax.numpy.asarray, lambda x: jax.block_until_ready(x))
    except ImportError:
        pass
    return out


def main():
    rng = np.random.default_rng(0)
    B, D, O = 10_000, 4, 2
    m, y = rng.normal(size=(B, D)), rng.normal(size=(B, O))
    A = rng.normal(size=(B, D, D))
    P = A @ np.swapaxes(A, -1, -2) + np.eye(D)
    H, R = rng.normal(size=(B, O, D)), np.broadcast_to(np.eye(O), (B, O, O)).copy()
    Bv, Dv, K = 1_000, 100, 4
    mv, sv = rng.normal(size=(Bv, Dv)), rng.uniform(1, 2, size=(Bv, Dv))

    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    hand = best(lambda: kalman_by_hand(m, P, y, H, R), 5)
    emitted = best(lambda: kalman_update(m, P, y, H, R, np.zeros(O)), 5)
    print(f"kalman_update on NumPy, B = {B}: {emitted * 1e3:.2f} ms; a hand-written NumPy update "
          f"{hand * 1e3:.2f} ms; ratio {emitted / hand:.2f}")
    base = {}
    for name, (to, sync) in libraries().items():
        args = [to(a) for a in (m, P, y, H, R, np.zeros(O))]
        t_k = best(lambda: sync(kalman_update(*args)[0]), 5)
        mv_, sv_ = to(mv), to(sv)

        def grad_sums(theta, _to=to):  # ℓ_i(θ) = ½ Σ_j θ_j², 10 terms: Σ_i ∇ℓ_i = 10 θ, Σ_i ∇ℓ_i² = 10 θ²
            return 10 * theta, 10 * theta * theta

        t_v = best(lambda: sync(vogn_step(mv_, sv_, 0.1, grad_sums, 100, 10, K, np.random.default_rng(1))[0]), 20)
        base.setdefault("k", t_k)
        base.setdefault("v", t_v)
        print(f"{name:>17}: kalman_update {t_k * 1e3:8.2f} ms ({t_k / base['k']:.2f}x NumPy), "
              f"vogn_step {t_v * 1e3:7.2f} ms ({t_v / base['v']:.2f}x NumPy)")


if __name__ == "__main__":
    from _cli import parser

    parser(__doc__).parse_args()
    main()
