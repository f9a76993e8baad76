"""Shared fixtures: one seeded random generator; the run's cache shared by the xdist workers; the other array
library; the optional-extras mark."""

import os

#: One BLAS (OpenMP) thread per process.  The suite runs one xdist worker per core, and the notebooks' kernels
#: and the command-line tests' subprocesses beside them: a second BLAS thread per process only contends for the
#: same cores, and OpenBLAS's threads spin while they wait (measured on 2 loaded cores: 300 Adam steps on the
#: digits MLP, 5.5 s of CPU with 2 threads, 0.31 s with 1).  Set here, before NumPy is loaded in this process,
#: and inherited by the workers, the kernels and the subprocesses; a value the caller set is kept.
BLAS_THREADS = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
for _name, _value in BLAS_THREADS.items():
    os.environ.setdefault(_name, _value)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from run_cache import RunCache, run_folder  # noqa: E402


def pytest_configure(config):
    """NumPy may be loaded before this file (by a plugin): limit its BLAS pool in this process too."""
    try:
        from threadpoolctl import threadpool_limits  # scikit-learn's dependency, in the test extra
    except ImportError:
        return
    threadpool_limits(int(os.environ["OPENBLAS_NUM_THREADS"]))

#: the ``other_library`` parameters that need an optional extra (torch, jax); array-api-strict is in the test extra
EXTRA_LIBRARIES = ("torch", "jax")


def pytest_addoption(parser):
    parser.addoption("--skips-fail", action="store_true",
                     help="report every skipped test as failed (.ci/run's second stage: with the optional extras "
                          "installed, none of the tests marked optional_extras may skip)")


def pytest_collection_modifyitems(config, items):
    """Every test on a PyTorch or JAX ``other_library`` is marked ``optional_extras`` (the tests that skip
    without the extras). The notebooks need no xdist group: the workers share one execution of each
    (tests/notebooks/conftest.py).

    The tests marked ``reads_notebooks`` (each notebook's execution and the checks that read it, then the docs
    build, made from them all, and the checks of its pages) run first, together (``_schedule_rank``): xdist's
    ``worksteal`` hands each worker a contiguous block of the collection and an idle worker steals from the end
    of another's queue, so these tests run one after the other on the first worker, never waiting for a notebook
    or a build another worker is making, and the short tests after them balance the workers at the end. In the
    order of collection the docs build came early, executed most notebooks itself, one after the other, and the
    other worker's notebook checks waited for them (591 s of one worker in a loaded run).
    """
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("other_library") in EXTRA_LIBRARIES:
            item.add_marker(pytest.mark.optional_extras)
    items.sort(key=_schedule_rank)  # stable: the order of collection kept within each rank


def _schedule_rank(item) -> int:
    """0: a test of one notebook's execution; 1: one of the docs build (``docs_build``), which reads every
    notebook's, after those; 2: the others."""
    if item.get_closest_marker("reads_notebooks") is None:
        return 2
    return 1 if "docs_build" in getattr(item, "fixturenames", ()) else 0


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """With ``--skips-fail``, a skipped test (not an expected failure) is reported as failed, saying why it skipped."""
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and item.config.getoption("--skips-fail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome, report.longrepr = "failed", f"skipped under --skips-fail: {reason}"
    return report


@pytest.fixture(scope="session")
def run_cache(tmp_path_factory) -> RunCache:
    """Values computed once per run and shared by the xdist workers (``run_cache.get(key, compute)``):
    derivations and tables that several tests, on either worker, read."""
    return RunCache(run_folder(tmp_path_factory, "run_cache"))


@pytest.fixture
def rng():
    return np.random.default_rng(20231)


# -- another Array API library: array-api-strict always (a test extra), PyTorch and JAX when installed ----

class ArrayLibrary:
    """Converters between NumPy and one other array library, for tests that run a driver on both.

    ``to(a)`` makes a float64 array of the library from a NumPy array (integers stay integers),
    ``back(a)`` a NumPy array from one of its arrays, ``wrap(f)`` a NumPy function (a user's gradient,
    say) that takes and returns the library's arrays, ``array_type`` its array class.
    """

    def __init__(self, name):
        self.name = name
        if name == "array_api_strict":
            xp = pytest.importorskip("array_api_strict")
            self.xp, self.array_type = xp, type(xp.asarray(0.0))
            self._to = lambda a: xp.asarray(a, dtype=xp.float64 if a.dtype.kind == "f" else None)
            self.back = lambda a: np.from_dlpack(a)
        elif name == "jax":
            jax = pytest.importorskip("jax")
            jax.config.update("jax_enable_x64", True)  # blrkit computes in float64 (docs/array_api.md)
            self.xp, self.array_type = jax.numpy, jax.Array
            self._to = lambda a: jax.numpy.asarray(a, dtype=jax.numpy.float64 if a.dtype.kind == "f" else None)
            self.back = lambda a: np.asarray(a)
        else:
            torch = pytest.importorskip("torch")
            self.xp, self.array_type = torch, torch.Tensor
            self._to = lambda a: torch.asarray(a, dtype=torch.float64 if a.dtype.kind == "f" else None)
            self.back = lambda a: a.numpy()

    def to(self, a):
        return self._to(np.array(a))  # a copy: the library may share (and then write) the buffer

    def convert(self, value):
        """NumPy arrays → the library's; callables → wrapped; anything else (numbers, rngs) unchanged."""
        if isinstance(value, np.ndarray):
            return self.to(value)
        if callable(value) and not isinstance(value, np.random.Generator):
            return self.wrap(value)
        return value

    def wrap(self, f):
        def wrapped(*args):
            out = f(*(self.back(a) if isinstance(a, self.array_type) else a for a in args))
            return tuple(self.to(o) for o in out) if isinstance(out, tuple) else self.to(out)
        return wrapped


@pytest.fixture(params=["array_api_strict", "torch", "jax"])
def other_library(request):
    """array-api-strict (an Array API namespace and nothing more); PyTorch and JAX (float64, CPU) when installed."""
    return ArrayLibrary(request.param)
