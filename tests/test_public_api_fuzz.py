"""Generated bad input over the public API of blrkit.algorithms, blrkit.duality and blrkit.models (issue #27).

Each public function has one small valid call below. Hypothesis replaces one of its arguments by a bad value
(NaN, inf, a huge or negative number, text, complex, ``None``, a boolean, an array of the wrong shape, an empty
array, a non-symmetric or indefinite matrix, the valid array scaled by 1e200, with one NaN, or less one column)
or one of its callables by one that answers badly. The property: only ``ValueError`` or ``TypeError`` escape,
and whatever is returned holds no NaN or inf. Derandomised, few examples per function, no deadline: ~10 s.
"""

import dataclasses
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")  # a test extra: generates the bad inputs
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import blrkit.algorithms as alg  # noqa: E402
import blrkit.duality as dual  # noqa: E402
import blrkit.models as mod  # noqa: E402

R = np.random.default_rng(0)
X6 = R.normal(size=(6, 2))
Y01 = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
YPM = 2 * Y01 - 1
YREAL = R.normal(size=6)
Y8 = R.normal(size=8)
EYE2 = np.eye(2)
NET = mod.MLP((2, 3, 2))
THETA = NET.init(0)
YCLS = Y01.astype(int)
POST = dual.fit_glm(X6, Y01, likelihood="logistic", prior_precision=1.0, tol=1e-12)
SITES = dual.local_parameters(X6, Y01, POST, likelihood="logistic", prior_precision=1.0)
KF = alg.kalman_filter(R.normal(size=(5, 1)), np.eye(1), np.eye(1), np.eye(1), np.eye(1), np.zeros(1), np.eye(1))
PROBS = np.full((6, 2), 0.5)


def grad(m):
    return m - 1.0


def hess(m):
    return np.broadcast_to(np.eye(m.shape[-1]), m.shape + m.shape[-1:]).copy()


def grad_batch(th, idx):
    return th - 1.0


def grad_terms(th, idx):
    return np.broadcast_to((th - 1.0)[..., None, :], th.shape[:-1] + (len(idx), th.shape[-1])).copy()


def mix_loss(th):
    return 0.5 * np.sum(th**2, -1)


#: name -> (function, valid keyword arguments); every argument may be replaced
CALLS = {
    "gradient_descent": (alg.gradient_descent, dict(grad=grad, m0=np.zeros(2), rho=0.5, n_steps=2)),
    "adam": (alg.adam, dict(grad=grad, m0=np.zeros(2), lr=0.1, betas=(0.9, 0.99), eps=1e-8, n_steps=2)),
    "rmsprop": (alg.rmsprop, dict(grad=grad, m0=np.zeros(2), lr=0.1, alpha=0.9, eps=1e-8, n_steps=2)),
    "newton": (alg.newton, dict(grad=grad, hess=hess, m0=np.zeros(2), n_steps=2, rho=0.5, precision0=EYE2)),
    "laplace": (alg.laplace, dict(grad=grad, hess=hess, m0=np.zeros(2), rho=1.0, tol=1e-8, max_steps=5)),
    "variational_newton": (alg.variational_newton, dict(grad=grad, hess=hess, m0=np.zeros(2), n_steps=2, rho=0.5,
                                                        precision0=EYE2, n_samples=2, rng=0)),
    "diagonal_newton": (alg.diagonal_newton, dict(grad=grad, hess_diag=lambda m: np.ones_like(m), m0=np.zeros(2),
                                                  n_steps=2, rho=0.5, precision0=np.ones(2))),
    "sgd": (alg.stochastic_gradient_descent, dict(grad_terms=grad_batch, m0=np.zeros(2), rho=0.1, n_steps=2,
                                                  n_data=4, batch_size=2, rng=0)),
    "ogn": (alg.online_gauss_newton, dict(grad_terms=grad_terms, m0=np.zeros(2), rho=0.5, n_steps=2, n_data=4,
                                          batch_size=2, precision0=np.ones(2), rng=0)),
    "vogn": (alg.vogn, dict(grad_terms=grad_terms, m0=np.zeros(2), rho=0.5, n_steps=2, n_data=4, batch_size=2,
                            precision0=np.ones(2), n_samples=1, rng=0)),
    "ivon": (alg.ivon, dict(grad_batch=grad_batch, m0=np.zeros(2), lr=0.1, ess=10.0, hess_init=1.0, n_steps=2,
                            n_data=4, batch_size=2, rng=0)),
    "bayesbinn": (alg.bayesbinn, dict(grad_batch=grad_batch, lam0=np.zeros(2), lr=0.1, temperature=1.0, n_steps=2,
                                      n_data=4, batch_size=2, prior=0.0, n_samples=1, momentum=0.0, rng=0)),
    "ste": (alg.ste, dict(grad_batch=grad_batch, latent0=np.zeros(2), lr=0.1, n_steps=2, n_data=4, batch_size=2,
                          rng=0)),
    "bernoulli_blr": (alg.bernoulli_blr, dict(loss=lambda W: W.sum(-1), lam0=np.zeros(2), rho=0.5,
                                              n_steps=2, prior=0.0)),
    "dropout_sgd": (alg.dropout_sgd, dict(grad_batch=grad_batch, m0=np.zeros(2), rho=0.1, keep_prob=0.5, n_steps=2,
                                          n_data=4, batch_size=2, slab_sd=0.1, rng=0)),
    "mixture_newton": (alg.mixture_newton, dict(loss=mix_loss, grad=grad, hess=hess, means0=[[-1.0], [1.0]],
                                                rho=0.5, n_steps=2, precisions0=np.eye(1), weights0=[0.5, 0.5])),
    "mixture_vi": (alg.mixture_vi, dict(loss=mix_loss, grad=grad, hess=hess, means0=[[-1.0], [1.0]], rho=0.5,
                                        n_steps=2, precisions0=np.eye(1), n_samples=2, rng=0, rho_weights=0.1)),
    "em": (alg.em_gaussian_mixture, dict(X=X6, weights0=[0.5, 0.5], means0=[[-1.0, 0.0], [1.0, 0.0]],
                                         precisions0=np.stack([EYE2, EYE2]), n_steps=2)),
    "ncvmp": (alg.ncvmp_logistic, dict(X=X6, y=YPM, alpha=1.0, n_steps=2, m0=np.zeros(2), precision0=EYE2)),
    "ridge": (alg.ridge, dict(X=X6, y=YREAL, alpha=1.0, noise_variance=1.0)),
    "vmp_normal_gamma": (alg.vmp_normal_gamma, dict(y=Y8, mean_prior=(0.0, 1e-2), precision_prior=(1.0, 1.0),
                                                    n_steps=2)),
    "vmp_linear_regression": (alg.vmp_linear_regression, dict(X=X6, y=YREAL, alpha=1.0, noise_prior=(1.0, 1.0),
                                                              n_steps=2)),
    "svi_gaussian_mean": (alg.svi_gaussian_mean, dict(y=Y8, prior_mean=0.0, prior_precision=1.0, noise_variance=1.0,
                                                      batch_size=2, n_steps=2, rng=0)),
    "kalman_filter": (alg.kalman_filter, dict(y=R.normal(size=(5, 1)), F=np.eye(1), Q=np.eye(1), H=np.eye(1),
                                              R=np.eye(1), m0=np.zeros(1), P0=np.eye(1))),
    "kalman_smoother": (alg.kalman_smoother, dict(filter_result=KF, F=np.eye(1), Q=np.eye(1))),
    "kalman_em": (alg.kalman_em, dict(y=R.normal(size=(6, 1)), F0=np.eye(1), Q0=np.eye(1), H0=np.eye(1),
                                      R0=np.eye(1), m00=np.zeros(1), P00=np.eye(1), n_steps=2)),
    "fit_glm": (dual.fit_glm, dict(X=X6, y=Y01, likelihood="logistic", prior_precision=1.0, method="variational",
                                   n_quadrature=16)),
    "glm_objective": (lambda **kw: [f(np.zeros(2)) for f in dual.glm_objective(**kw)],
                      dict(X=X6, y=YREAL, likelihood="gaussian", prior_precision=1.0, noise_variance=1.0)),
    "fit_softmax": (dual.fit_softmax, dict(X=X6, y=YCLS, n_classes=2, prior_precision=1.0, max_steps=20)),
    "local_parameters": (dual.local_parameters, dict(X=X6, y=Y01, posterior=POST, likelihood="logistic",
                                                     prior_precision=1.0)),
    "predictive_variance": (dual.predictive_variance, dict(X=X6, precision=EYE2)),
    "gauss_hermite": (dual.gauss_hermite_expectation, dict(fns=[lambda e, y: e**2], mean=np.zeros(3),
                                                           variance=np.ones(3), y=0.0, n_nodes=8)),
    "kprior": (lambda **kw: dual.kprior(**kw).grad(np.ones(2)), dict(memory=X6, old_mean=np.zeros(2),
                                                                     likelihood="logistic", prior_precision=1.0)),
    "quadratic_penalty": (lambda **kw: dual.quadratic_penalty(**kw).hess(np.ones(2)),
                          dict(old_posterior=POST, prior_precision=1.0, likelihood="logistic")),
    "memorable_examples": (dual.memorable_examples, dict(sites=SITES, k=2)),
    "select_memory": (dual.select_memory, dict(sites=SITES, size=2, rng=0)),
    "network_jacobian": (dual.network_jacobian, dict(net=NET, theta=THETA, X=X6)),
    "network_kernel": (dual.network_kernel, dict(net=NET, theta=THETA, X1=X6, precision=1.0)),
    "ggn_precision": (dual.ggn_precision, dict(net=NET, theta=THETA, X=X6, y=YCLS, prior_precision=1.0)),
    "gp_predictive": (lambda **kw: dual.gp_predictive(**kw).mean,
                      dict(net=NET, theta=THETA, X_train=X6, y_train=YCLS, X_test=X6[:2], prior_precision=1.0)),
    "mlp_loss": (lambda theta, X, y: NET.loss(theta, X, y), dict(theta=THETA, X=X6, y=YCLS)),
    "mlp_gradient": (lambda theta, X, y: NET.gradient(theta, X, y), dict(theta=THETA, X=X6, y=YCLS)),
    "mlp_square_sums": (lambda theta, X, y: NET.gradient_square_sums(theta, X, y), dict(theta=THETA, X=X6, y=YCLS)),
    "objective": (lambda prior_precision, theta, idx: mod.Objective(NET, X6, YCLS, prior_precision).grad_sums(
        theta, idx), dict(prior_precision=1.0, theta=THETA, idx=np.array([0, 2]))),
    "accuracy": (mod.accuracy, dict(probs=PROBS, y=YCLS)),
    "negative_log_likelihood": (mod.negative_log_likelihood, dict(probs=PROBS, y=YCLS)),
    "expected_calibration_error": (mod.expected_calibration_error, dict(probs=PROBS, y=YCLS, n_bins=5)),
    "bayesian_model_average": (mod.bayesian_model_average, dict(net=NET, thetas=THETA[None], X=X6)),
    "sample_diagonal_gaussian": (mod.sample_diagonal_gaussian, dict(mean=np.zeros(3), precision=np.ones(3),
                                                                    n_samples=2, rng=0)),
    "sample_binary_weights": (mod.sample_binary_weights, dict(lam=np.zeros(3), n_samples=2, rng=0)),
    "moons": (mod.moons, dict(n_samples=20, noise=0.2, test_fraction=0.5, seed=0)),
}

#: Values that replace an argument whatever it is.
BAD = [np.nan, np.inf, -np.inf, -1.0, 0.0, 1e308, 2.5, 2**70, -1, True, None, "0.1", 1 + 1j, [np.nan],
       np.ones(7), np.zeros((0,)), np.ones((2, 2, 2)), np.array([[1.0, 3.0], [0.0, 1.0]]),
       np.array([[1.0, 2.0], [2.0, 1.0]]), ["a", "b"], np.array([1 + 0j])]


def _scaled(v):
    return np.asarray(v, dtype=float) * 1e200


def _one_nan(v):
    a = np.array(v, dtype=float)
    a.flat[0] = np.nan
    return a


def _less_a_column(v):
    return np.asarray(v, dtype=float)[..., :-1]


def _complex(v):
    return np.asarray(v, dtype=float) + 1j


#: Changes of a valid array argument.
TRANSFORMS = [_scaled, _one_nan, _less_a_column, _complex]

#: Answers of a replaced callable.
BAD_ANSWERS = [lambda a: a * np.nan, lambda a: a + 1j, lambda a: np.ones(1), lambda a: a * 1e200,
               lambda a: np.ones(a.shape + (3,)), lambda a: "x"]


def _bad_callable(answer):
    def f(*args):
        a = np.asarray(args[0], dtype=float) if not isinstance(args[0], np.ndarray) else args[0]
        return answer(a)
    return f


def _arrays(out):
    """Every float array in a result (NamedTuples, dataclasses, tuples and lists of them)."""
    if isinstance(out, np.ndarray):
        if out.dtype.kind in "fc":
            yield out
    elif isinstance(out, float):
        yield np.asarray(out)
    elif isinstance(out, (tuple, list)):
        for o in out:
            yield from _arrays(o)
    elif dataclasses.is_dataclass(out):
        for f in dataclasses.fields(out):
            yield from _arrays(getattr(out, f.name))


@st.composite
def replacements(draw, kwargs):
    name = draw(st.sampled_from(sorted(kwargs)))
    value = kwargs[name]
    if callable(value) and not isinstance(value, (np.ndarray, mod.MLP)):
        return name, _bad_callable(draw(st.sampled_from(BAD_ANSWERS)))
    if isinstance(value, (np.ndarray, list)) and np.asarray(value).dtype.kind in "fi" and draw(st.booleans()):
        return name, draw(st.sampled_from(TRANSFORMS))(value)
    return name, draw(st.sampled_from(BAD))


@pytest.mark.parametrize("key", sorted(CALLS))
def test_bad_input_raises_a_named_error_or_returns_finite_values(key):
    fn, kwargs = CALLS[key]
    fn(**kwargs)  # the valid call works

    @settings(max_examples=12, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(replacements(kwargs))
    def check(replacement):
        name, value = replacement
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NumPy's warnings on the way to an error are not the property
                out = fn(**{**kwargs, name: value})
        except (ValueError, TypeError):
            return
        for a in _arrays(out):
            assert np.all(np.isfinite(a)), f"{key}({name}={value!r}) returned NaN or inf"

    check()
