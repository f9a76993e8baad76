"""blrkit's drivers and emitted steps on an accelerator, against NumPy on this machine's CPU cores, in one run.

Run on a machine with a GPU (PyTorch with CUDA, CuPy, or JAX with a GPU backend installed)::

    python benchmarks/bench_device.py                      # the full sizes below
    python benchmarks/bench_device.py --scale 0.1          # every size ×0.1 (less device memory)

Without an accelerator it prints which libraries and devices it looked for and exits with status 0. To try
the table here, on CPU-backed PyTorch and JAX (the ``torch`` and ``jax`` extras) at reduced sizes::

    python benchmarks/bench_device.py --cpu-libraries      # --scale 0.001 unless given

Workloads (``--scale`` multiplies the batch, D or N of each), float32 and float64 inputs each:

* ``kalman_filter``: a batch of 10⁶ series, T = 200, D = 4 (O = 2 observed), shared F, Q, H, R;
* ``vogn_step`` and ``ivon_step`` (the emitted steps): D = 10⁵ and D = 10⁶, one sample, a quadratic loss;
* ``ridge``: N = 10⁷, D = 8;
* ``em_gaussian_mixture``: N = 10⁶, D = 2, K = 3, 5 iterations.

For every library and dtype the time is the best of ``--repeats`` calls after a warm-up call, the device
synchronised after each; the ratio is NumPy's time on the same inputs divided by the library's (> 1: the
library is faster). Each result is copied to the host and compared with the NumPy run of the same dtype,
field by field, as ``max |got − numpy| / max |numpy|`` against the tolerance of the dtype (TOLERANCE); a
result outside it is marked FAIL and the exit status is 1. The dtype the result came back in is printed:
the steps compute in float64 today whatever they are given (docs/array_api.md), so a float32 row shows
what float32 inputs cost now, and will show the float32 speed-up once the steps keep float32.

Random draws (VOGN, IVON) come from a NumPy generator seeded alike for every library, on the host, as
blrkit does; they are part of the timed step. The load average is printed: on a busy machine, ratios of
the CPU libraries move by tens of percent.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import numpy as np

from blrkit.algorithms import em_gaussian_mixture, kalman_filter, ridge
from blrkit.algorithms._generated.ivon import ivon_step
from blrkit.algorithms._generated.vogn import vogn_step

#: max |got − NumPy| / max |NumPy| allowed, per input dtype. float64: the same algorithm in another BLAS or
#: kernel that sums in another order, over sums of up to N = 10⁷ terms and T = 200 contracting filter steps:
#: ~1e-12, so 1e-8. float32: the inputs rounded to float32 (relative 6e-8) times the condition numbers of these
#: problems (≲ 1e2), and float32 accumulation (ε₃₂ √N ≈ 4e-4 for N = 10⁷ in a pairwise or blocked sum): 1e-2.
TOLERANCE = {"float32": 1e-2, "float64": 1e-8}

FULL = dict(kalman_batch=10**6, kalman_T=200, vogn_D=(10**5, 10**6), ridge_N=10**7, em_N=10**6)


# -- the libraries ------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Library:
    """How to put a NumPy array on the library's device, synchronise it, and bring an array back."""

    name: str
    to: object          # (np.ndarray, dtype name) -> device array
    back: object        # device array -> np.ndarray
    sync: object        # () -> None, waits for the device


def numpy_library():
    return Library("numpy (CPU)", lambda a, dtype: np.asarray(a, dtype=dtype), np.asarray, lambda: None)


def torch_library(device):
    import torch

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()
    return Library(f"torch ({device})", lambda a, dtype: torch.asarray(np.array(a, dtype=dtype), device=device),
                   lambda x: x.detach().cpu().numpy(), sync)


def cupy_library():
    import cupy

    return Library("cupy (cuda)", lambda a, dtype: cupy.asarray(np.array(a, dtype=dtype)), cupy.asnumpy,
                   lambda: cupy.cuda.Device().synchronize())


def jax_library(platform):
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 arrays stay float64; float32 ones stay float32
    device = jax.devices(platform)[0]
    pending = []

    def to(a, dtype):
        x = jax.device_put(jax.numpy.asarray(np.asarray(a, dtype=dtype)), device)
        pending.append(x)
        return x

    def sync():
        jax.block_until_ready(pending)
    return Library(f"jax ({platform})", to, np.asarray, sync)


def find_libraries(cpu_libraries: bool):
    """The libraries to time, and a line per library saying what was found."""
    found, notes = [], []
    try:
        import torch
        if torch.cuda.is_available():
            found.append(torch_library("cuda"))
        elif cpu_libraries:
            found.append(torch_library("cpu"))
        notes.append(f"torch {torch.__version__}: CUDA {'available' if torch.cuda.is_available() else 'not available'}")
    except ImportError:
        notes.append("torch: not installed")
    try:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
        if n:
            found.append(cupy_library())
        notes.append(f"cupy {cupy.__version__}: {n} CUDA device(s)")
    except ImportError:
        notes.append("cupy: not installed")
    except Exception as err:  # CuPy installed without a driver or a device
        notes.append(f"cupy: no CUDA device ({type(err).__name__}: {err})")
    try:
        import jax
        platforms = sorted({d.platform for d in jax.devices()})
        accelerators = [p for p in platforms if p != "cpu"]
        if accelerators:
            found.append(jax_library(accelerators[0]))
        elif cpu_libraries:
            found.append(jax_library("cpu"))
        notes.append(f"jax {jax.__version__}: devices {', '.join(platforms)}")
    except ImportError:
        notes.append("jax: not installed")
    return found, notes


# -- the workloads: each returns the call to time, given a converter to the library's arrays ------------------

def kalman_workload(B, T, D=4, O=2):
    rng = np.random.default_rng(0)
    F = 0.9 * np.linalg.qr(rng.normal(size=(D, D)))[0]     # stable: every eigenvalue of modulus 0.9
    Q, R = 0.1 * np.eye(D), 0.5 * np.eye(O)
    H = rng.normal(size=(O, D))
    y = rng.normal(size=(B, T, O))
    m0, P0 = np.zeros((B, D)), np.broadcast_to(np.eye(D), (B, D, D))

    def make(lib, dtype):
        args = [lib.to(a, dtype) for a in (y, F, Q, H, R, m0, P0)]
        return lambda: kalman_filter(*args)
    return f"kalman_filter B={B:.0e} T={T} D={D}", make


def quadratic_sums(lib_a, lib_b):
    """Σ_i ∇ℓ_i and Σ_i ∇ℓ_i² of ℓ(θ) = ½ Σ_d a_d θ_d² − b_d θ_d, one term: (aθ − b, (aθ − b)²)."""
    def grad_sums(theta):
        g = lib_a * theta - lib_b
        return g, g * g
    return grad_sums


def vogn_workload(D):
    rng = np.random.default_rng(1)
    m, s, a, b = rng.normal(size=D), rng.uniform(1, 2, D), rng.uniform(0.5, 2, D), rng.normal(size=D)

    def make(lib, dtype):
        mm, ss, aa, bb = (lib.to(x, dtype) for x in (m, s, a, b))
        sums = quadratic_sums(aa, bb)
        return lambda: vogn_step(mm, ss, 0.1, sums, 1, 1, 1, np.random.default_rng(7))
    return f"vogn_step D={D:.0e}", make


def ivon_workload(D):
    rng = np.random.default_rng(2)
    m, h, g, a, b = (rng.normal(size=D), rng.uniform(0.1, 1, D), np.zeros(D), rng.uniform(0.5, 2, D),
                     rng.normal(size=D))

    def make(lib, dtype):
        mm, hh, gg, aa, bb = (lib.to(x, dtype) for x in (m, h, g, a, b))
        grad = lambda theta: aa * theta - bb  # noqa: E731
        return lambda: ivon_step(mm, hh, gg, 0.1, 0.1, 0.9, 1e-3, 1000.0, 1, grad, 1, np.random.default_rng(7))
    return f"ivon_step D={D:.0e}", make


def ridge_workload(N, D=8):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, D))
    y = X @ rng.normal(size=D) + rng.normal(size=N)

    def make(lib, dtype):
        XX, yy = lib.to(X, dtype), lib.to(y, dtype)
        return lambda: ridge(XX, yy, 1.0)
    return f"ridge N={N:.0e} D={D}", make


def em_workload(N, D=2, K=3, n_steps=5):
    rng = np.random.default_rng(4)
    centres = np.array([[-3.0, 0.0], [0.0, 3.0], [3.0, 0.0]])
    X = centres[rng.integers(0, K, N)] + rng.normal(size=(N, D))
    # weights exact in float32 too (1/3 is not: its float32 sum is 1 + 3e-8, which the simplex check refuses)
    w0, mu0, P0 = np.array([0.25, 0.25, 0.5]), centres + 0.5, np.broadcast_to(np.eye(D), (K, D, D))

    def make(lib, dtype):
        XX, ww, mm, PP = (lib.to(a, dtype) for a in (X, w0, mu0, P0))
        return lambda: em_gaussian_mixture(XX, weights0=ww, means0=mm, precisions0=PP, n_steps=n_steps)
    return f"em_gaussian_mixture N={N:.0e} K={K} {n_steps} steps", make


def workloads(scale):
    def n(x):
        return max(2, int(round(x * scale)))
    out = [kalman_workload(n(FULL["kalman_batch"]), FULL["kalman_T"])]
    out += [vogn_workload(n(D)) for D in FULL["vogn_D"]]
    out += [ivon_workload(n(D)) for D in FULL["vogn_D"]]
    out += [ridge_workload(n(FULL["ridge_N"])), em_workload(n(FULL["em_N"]))]
    return out


# -- timing and checking --------------------------------------------------------------------------------------

def arrays_of(result):
    """The result's arrays, in order: the fields of a result dataclass, or the items of a tuple."""
    if dataclasses.is_dataclass(result):
        return [getattr(result, f.name) for f in dataclasses.fields(result)]
    return list(result) if isinstance(result, tuple) else [result]


def best_time(call, sync, repeats):
    out = call()  # warm-up: compilation, caches, the allocator
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = call()
        sync()
        times.append(time.perf_counter() - t0)
    return min(times), out


def relative_error(got, want):
    errs = []
    for g, w in zip(got, want):
        w = np.asarray(w, dtype=np.float64)
        scale = max(float(np.max(np.abs(w), initial=0.0)), 1e-300)
        errs.append(float(np.max(np.abs(np.asarray(g, dtype=np.float64) - w), initial=0.0)) / scale)
    return max(errs)


def run(libraries, scale, repeats, out=sys.stdout):
    """Print the table; return the number of results outside their tolerance."""
    reference = numpy_library()
    failures = 0
    header = f"{'workload':<40} {'dtype':<8} {'library':<14} {'seconds':>9} {'numpy/lib':>9} {'result':>8} {'rel. error':>10}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for title, make in workloads(scale):
        for dtype in ("float32", "float64"):
            t_ref, res = best_time(make(reference, dtype), reference.sync, repeats)
            want = [np.asarray(a) for a in arrays_of(res)]
            print(f"{title:<40} {dtype:<8} {reference.name:<14} {t_ref:9.4f} {1.0:9.2f} "
                  f"{str(want[0].dtype):>8} {'':>10}", file=out)
            for lib in libraries:
                t, res = best_time(make(lib, dtype), lib.sync, repeats)
                got = [lib.back(a) for a in arrays_of(res)]
                err = relative_error(got, want)
                ok = err <= TOLERANCE[dtype]
                failures += not ok
                print(f"{'':<40} {dtype:<8} {lib.name:<14} {t:9.4f} {t_ref / t:9.2f} {str(got[0].dtype):>8} "
                      f"{err:10.1e}{'' if ok else '  FAIL (tolerance %.0e)' % TOLERANCE[dtype]}", file=out)
            out.flush()
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-libraries", action="store_true",
                        help="time CPU-backed PyTorch and JAX when no accelerator is found (default --scale 0.001)")
    parser.add_argument("--scale", type=float, default=None,
                        help="multiply every workload's size (default 1, or 0.001 with --cpu-libraries)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per entry, the best reported (default 3)")
    args = parser.parse_args(argv)
    if args.scale is not None and not args.scale > 0:
        parser.error(f"--scale must be positive, got {args.scale}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    scale = args.scale if args.scale is not None else (0.001 if args.cpu_libraries else 1.0)
    libraries, notes = find_libraries(args.cpu_libraries)
    for note in notes:
        print(note)
    if not libraries:
        print("No accelerator found (PyTorch with CUDA, CuPy with a CUDA device, or JAX with a GPU backend): "
              "nothing to compare with NumPy. Run with --cpu-libraries to try the table on CPU-backed PyTorch "
              "and JAX (pip install -e \".[torch,jax]\").")
        return 0
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores; scale {scale:g}; "
          f"best of {args.repeats}")
    failures = run(libraries, scale, args.repeats)
    if failures:
        print(f"{failures} result(s) outside their tolerance")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
