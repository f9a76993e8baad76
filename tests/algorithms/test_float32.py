"""Issue #29's dtype policy in the drivers: float32 inputs give float32 results (means, precisions, iterates,
log-likelihoods) that agree with the float64 run on the same values (FLOAT32); integers and lists stay
float64; float16 is refused naming the argument; the Kalman covariances stay symmetric positive definite over
10⁵ float32 steps without drifting, and the improved rule keeps the precisions positive definite over 10⁴
float32 steps."""

import dataclasses

import numpy as np
import pytest

from blrkit.algorithms import (
    adam,
    bayesbinn,
    diagonal_newton,
    dropout_sgd,
    em_gaussian_mixture,
    gradient_descent,
    ivon,
    kalman_em,
    kalman_filter,
    laplace,
    mixture_newton,
    mixture_vi,
    ncvmp_logistic,
    newton,
    online_gauss_newton,
    ridge,
    rmsprop,
    rts_smoother,
    ste,
    stochastic_gradient_descent,
    svi_gaussian_mean,
    variational_newton,
    vmp_linear_regression,
    vmp_normal_gamma,
    vogn,
)
from blrkit.classical.problems import random_state_space_model

from .tolerances import FLOAT32, assert_close

M0 = [1.0, -0.5, 0.25]
A = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 1.5]])   # a convex quadratic ½θᵀAθ − bᵀθ
B = np.array([1.0, -1.0, 0.5])
MINI = dict(n_data=6, batch_size=3, rng=0, n_steps=8)


def grad(m, *idx):
    return m @ A - B


def hess(m):
    return np.broadcast_to(A, m.shape + m.shape[-1:]).copy()


def per_example(m, idx):
    return np.broadcast_to((m @ A - B)[..., None, :] / 3, m.shape[:-1] + (len(idx), m.shape[-1])).copy()


def _state_space(dt):
    rng = np.random.default_rng(3)
    mod = random_state_space_model(rng, 3, 2)
    y = mod.sample(rng, 60, batch=(4,))
    return y.astype(dt), [np.asarray(a, dtype=dt) for a in (mod.F, mod.Q, mod.H, mod.R, mod.m0, mod.P0)]


def _kalman_filter(dt):
    y, args = _state_space(dt)
    return kalman_filter(y, *args)


def _rts_smoother(dt):
    y, args = _state_space(dt)
    return rts_smoother(kalman_filter(y, *args), args[0], args[1], cross_covariances=True)


def _kalman_em(dt):
    y, args = _state_space(dt)
    return kalman_em(y, *args, n_steps=3, fit=("Q", "R"))


def _ridge(dt):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 3))
    return ridge(X.astype(dt), (X @ B + 0.1 * rng.standard_normal(40)).astype(dt), 0.5)


def _em(dt):
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(-2, 1, (30, 1)), rng.normal(2, 0.5, (20, 1))])
    return em_gaussian_mixture(X.astype(dt), weights0=np.array([0.5, 0.5], dt), means0=np.array([[-1.0], [1.0]], dt),
                               precisions0=np.ones((2, 1, 1), dt), n_steps=5)


def _f(dt, a):
    return np.asarray(a, dtype=dt)


#: name -> run at a dtype (every array input in that dtype)
DRIVERS = {
    "gradient_descent": lambda dt: gradient_descent(grad, _f(dt, M0), rho=0.3, n_steps=8),
    "stochastic_gradient_descent": lambda dt: stochastic_gradient_descent(grad, _f(dt, M0), rho=0.1, **MINI),
    "rmsprop": lambda dt: rmsprop(grad, _f(dt, M0), lr=0.05, n_steps=8),
    "adam": lambda dt: adam(grad, _f(dt, M0), lr=0.05, n_steps=8),
    "newton": lambda dt: newton(grad, hess, _f(dt, M0), rho=0.5, precision0=_f(dt, np.eye(3)), n_steps=8),
    "variational_newton": lambda dt: variational_newton(grad, hess, _f(dt, M0), rho=0.5, precision0=_f(dt, np.eye(3)),
                                                        n_steps=8, rng=0),
    "diagonal_newton": lambda dt: diagonal_newton(grad, lambda m: np.broadcast_to(np.diag(A), m.shape).copy(),
                                                  _f(dt, M0), rho=0.5, precision0=_f(dt, np.ones(3)), n_steps=8),
    "laplace": lambda dt: laplace(grad, hess, _f(dt, M0), rho=1.0, precision0=_f(dt, np.eye(3))),
    "online_gauss_newton": lambda dt: online_gauss_newton(per_example, _f(dt, M0), rho=0.3,
                                                          precision0=_f(dt, np.ones(3)), **MINI),
    "vogn": lambda dt: vogn(per_example, _f(dt, M0), rho=0.3, precision0=_f(dt, np.ones(3)), **MINI),
    "vogn (improved)": lambda dt: vogn(per_example, _f(dt, M0), rho=0.3, precision0=_f(dt, np.ones(3)),
                                       rule="improved", **MINI),
    "ivon": lambda dt: ivon(grad, _f(dt, M0), lr=0.05, ess=100.0, hess_init=_f(dt, np.ones(3)), **MINI),
    "dropout_sgd": lambda dt: dropout_sgd(grad, _f(dt, M0), rho=0.05, keep_prob=0.8, **MINI),
    "bayesbinn": lambda dt: bayesbinn(grad, _f(dt, np.zeros(3)), lr=0.1, temperature=1.0, **MINI),
    "ste": lambda dt: ste(grad, _f(dt, M0), lr=0.1, **MINI),
    "mixture_newton": lambda dt: mixture_newton(lambda th: 0.5 * np.sum(th**2, -1), lambda th: th, hess,
                                                _f(dt, [M0, [-1.0, 0.5, 0.0]]), rho=0.3, n_steps=8),
    "mixture_vi": lambda dt: mixture_vi(lambda th: 0.5 * np.sum(th**2, -1), lambda th: th,
                                        lambda th: np.broadcast_to(np.eye(3), th.shape + (3,)).copy(),
                                        _f(dt, [M0, [-1.0, 0.5, 0.0]]), rho=0.3, n_steps=8,
                                        precisions0=_f(dt, np.eye(3)), n_samples=2, rng=0),
    "ridge": _ridge,
    "vmp_normal_gamma": lambda dt: vmp_normal_gamma(_f(dt, [1.2, 0.7, 2.1, 1.6, 0.9]), n_steps=6),
    "vmp_linear_regression": lambda dt: vmp_linear_regression(*(lambda X, y: (X.astype(dt), y.astype(dt)))(
        *(lambda X: (X, X @ B))(np.random.default_rng(4).standard_normal((20, 3)))), alpha=1.0, n_steps=6),
    "ncvmp_logistic": lambda dt: ncvmp_logistic(
        *(lambda X: (X.astype(dt), (X @ B > 0).astype(float)))(np.random.default_rng(6).standard_normal((30, 3))),
        alpha=1.0, n_steps=6),
    "kalman_filter": _kalman_filter,
    "rts_smoother": _rts_smoother,
    "kalman_em": _kalman_em,
    "em_gaussian_mixture": _em,
}


def _arrays(result):
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
            if isinstance(getattr(result, f.name), np.ndarray)}


@pytest.mark.parametrize("driver", list(DRIVERS))
def test_float32_inputs_give_float32_results_that_agree_with_float64(driver):
    double = _arrays(DRIVERS[driver](np.float64))
    single = _arrays(DRIVERS[driver](np.float32))
    assert double and single.keys() == double.keys()
    for name, value in single.items():
        assert value.dtype == np.float32, (name, value.dtype)
        assert double[name].dtype == np.float64, name
        assert_close(value, double[name], FLOAT32)


def test_svi_gaussian_mean_keeps_float32():
    run = {dt: svi_gaussian_mean(_f(dt, [0.3, 1.1, 0.8, 1.4, 0.2, 0.9]), prior_mean=0.0, prior_precision=1.0,
                                 noise_variance=1.0, batch_size=2, n_steps=6, rng=0) for dt in (np.float32, np.float64)}
    for single, double in zip(run[np.float32], run[np.float64]):
        assert single.dtype == np.float32 and double.dtype == np.float64
        assert_close(single, double, FLOAT32)


@pytest.mark.parametrize("m0", [[1, 0, 0], [1.0, 0.0, 0.0], np.array([1, 0, 0])], ids=["list of ints", "list", "ints"])
def test_integers_lists_and_numbers_run_in_float64(m0):
    assert gradient_descent(grad, m0, rho=0.3, n_steps=2).means.dtype == np.float64


def test_float32_beside_float64_runs_in_float64():
    res = newton(grad, hess, _f(np.float32, M0), rho=0.5, precision0=np.eye(3), n_steps=2)
    assert res.means.dtype == np.float64 and res.precisions.dtype == np.float64


@pytest.mark.parametrize("call, name", [
    (lambda h: gradient_descent(grad, h(M0), rho=0.3, n_steps=2), "m0"),
    (lambda h: newton(grad, hess, M0, rho=0.5, precision0=h(np.eye(3)), n_steps=2), "precision0"),
    (lambda h: vogn(per_example, M0, rho=0.3, precision0=h(np.ones(3)), **MINI), "precision0"),
    (lambda h: ridge(h(np.eye(3)), np.ones(3), 1.0), "X"),
    (lambda h: kalman_filter(h(np.ones((3, 1))), *([np.eye(1)] * 4), np.zeros(1), np.eye(1)), "y"),
])
def test_float16_is_refused_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=f"^{name} has dtype float16: blrkit computes in float32 or float64; convert {name}"):
        call(lambda a: np.asarray(a, dtype=np.float16))


@pytest.mark.parametrize("path", ["steady state", "stepping"])
def test_kalman_float32_covariances_do_not_drift_over_1e5_steps(path):
    """T = 10⁵ float32 steps of one series through the steady-state path, and 3,000 through the step-by-step
    path (Q given per time step, so no shortcut; the Riccati map settles within tens of steps, so a drift
    would show long before): every covariance symmetric positive definite (Joseph form, symmetrised), and
    within FLOAT32 of the float64 run at every step, at the end as at the start (no drift)."""
    rng = np.random.default_rng(5)
    mod = random_state_space_model(rng, 2, 1)
    T = 100_000 if path == "steady state" else 3_000
    y = mod.sample(rng, T)
    kw = {} if path == "steady state" else dict(time_varying=("Q",))
    Q = mod.Q if path == "steady state" else np.broadcast_to(mod.Q, (T - 1, 2, 2))
    runs = {dt: kalman_filter(y.astype(dt), mod.F.astype(dt), Q.astype(dt), mod.H.astype(dt), mod.R.astype(dt),
                              mod.m0.astype(dt), mod.P0.astype(dt), **kw) for dt in (np.float32, np.float64)}
    P32, P64 = runs[np.float32].covariances, runs[np.float64].covariances
    assert P32.dtype == np.float32
    assert np.array_equal(P32, np.swapaxes(P32, -1, -2))
    assert np.all(np.linalg.eigvalsh(P32.astype(np.float64)) > 0)
    assert_close(P32, P64, FLOAT32)
    assert_close(P32[-1000:], P64[-1000:], FLOAT32)     # the last steps as close as the first: no drift


def test_the_improved_rule_keeps_float32_precisions_positive_definite_over_1e4_steps():
    """The improved rule (Khan & Rue 2023, Sec. 3.4; variational Newton with ``rule="improved"``) keeps the
    precision positive definite by construction: on a double well, whose Monte-Carlo Hessian 3θ² − 1 is
    negative near the start, 10⁴ float32 steps keep every precision positive definite and finite, where the
    plain rule (the wrong variant) loses definiteness within the first steps."""
    def grad_well(m):
        return m**3 - m

    def hess_well(m):
        return (3 * m**2 - 1)[..., None] * np.eye(2)

    kw = dict(rho=0.5, precision0=10 * np.eye(2, dtype=np.float32), n_steps=10_000, rng=0)
    res = variational_newton(grad_well, hess_well, np.array([0.05, -0.05], np.float32), rule="improved", **kw)
    assert res.precisions.dtype == np.float32
    assert np.all(np.isfinite(res.precisions))
    assert np.min(np.linalg.eigvalsh(res.precisions.astype(np.float64))) > 0
    with pytest.raises(ValueError, match="not positive definite"):
        variational_newton(grad_well, hess_well, np.array([0.05, -0.05], np.float32), rule="blr", **kw)


# -- another array library: float32 arrays stay float32 there too ------------------------------------------

def _kalman_args(c):
    rng = np.random.default_rng(3)
    mod = random_state_space_model(rng, 3, 2)
    y = mod.sample(rng, 40, batch=(2,))
    y[0, 5, 1] = np.nan                                   # a missing component: the padded update
    return c(y), [c(a) for a in (mod.F, mod.Q, mod.H, mod.R, mod.m0, mod.P0)]


def _ridge_args(c):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 3))
    return c(X), c(X @ B + 0.1 * rng.standard_normal(40))


#: name -> run given ``c`` (a NumPy array to the library's array at the run's dtype) and ``w`` (a NumPy callable
#: to one taking and returning the library's arrays)
ON_LIBRARY = {
    "gradient_descent": lambda c, w: gradient_descent(w(grad), c(M0), rho=0.3, n_steps=8),
    "adam": lambda c, w: adam(w(grad), c(M0), lr=0.05, n_steps=8),
    "newton": lambda c, w: newton(w(grad), w(hess), c(M0), rho=0.5, precision0=c(np.eye(3)), n_steps=8),
    "vogn": lambda c, w: vogn(w(per_example), c(M0), rho=0.3, precision0=c(np.ones(3)), **MINI),
    "ivon": lambda c, w: ivon(w(grad), c(M0), lr=0.05, ess=100.0, hess_init=c(np.ones(3)), **MINI),
    "dropout_sgd": lambda c, w: dropout_sgd(w(grad), c(M0), rho=0.05, keep_prob=0.8, **MINI),
    "ridge": lambda c, w: ridge(*_ridge_args(c), 0.5),
    "kalman_filter": lambda c, w: kalman_filter(*(lambda y, a: (y, *a))(*_kalman_args(c))),
    "rts_smoother": lambda c, w: (lambda y, a: rts_smoother(kalman_filter(y, *a), a[0], a[1],
                                                            cross_covariances=True))(*_kalman_args(c)),
}


def _single(lib, a):
    x = lib.to(np.asarray(a, dtype=float))
    return x.to(lib.xp.float32) if lib.name == "torch" else lib.xp.astype(x, lib.xp.float32)


@pytest.mark.parametrize("driver", list(ON_LIBRARY))
def test_float32_on_another_library_stays_float32_and_agrees_with_float64(other_library, driver):
    lib = other_library
    double = _arrays(ON_LIBRARY[driver](lambda a: np.asarray(a, dtype=float), lambda f: f))
    result = ON_LIBRARY[driver](lambda a: _single(lib, a), lib.wrap)
    single = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
              if isinstance(getattr(result, f.name), lib.array_type)}
    assert single.keys() == double.keys()
    for name, value in single.items():
        assert str(value.dtype).rpartition(".")[2] == "float32", (name, value.dtype)
        assert_close(lib.back(value), double[name], FLOAT32)
