"""Bad input on the newer drivers (issue #27), one test per class: what a user's callable returns (library, real
dtype, exact shape, finite, the sign it promises), hyperparameters (one validator per kind), symmetric matrices
(symmetry before definiteness), overflow (named with its scale, or avoided where the algorithm is equivariant),
messages that name the user's argument, and numerically legitimate ends (kalman_em)."""

import numpy as np
import pytest

from blrkit.algorithms import (
    adam,
    bayesbinn,
    bernoulli_blr,
    dropout_sgd,
    em_gaussian_mixture,
    gradient_descent,
    ivon,
    kalman_em,
    kalman_filter,
    mixture_newton,
    mixture_vi,
    ncvmp_logistic,
    online_gauss_newton,
    rmsprop,
    ste,
    stochastic_gradient_descent,
    vmp_linear_regression,
    vmp_normal_gamma,
    vogn,
)
from blrkit.classical.em import em_gaussian_mixture as textbook_em
from blrkit.classical.vmp import normal_gamma_cavi

from .tolerances import CLOSED_FORM, assert_close

EYE1 = np.eye(1)


def _mixture_parts(out):
    """loss, grad, hess of ½θ² per component, with ``out`` replacing one of them (by its key)."""
    parts = {"loss": lambda th: 0.5 * np.sum(th**2, -1), "grad": lambda th: th,
             "hess": lambda th: np.broadcast_to(np.eye(th.shape[-1]), th.shape + th.shape[-1:]).copy()}
    parts.update(out)
    return parts["loss"], parts["grad"], parts["hess"]


def _minibatch_drivers(grad_batch, m0=np.zeros(3)):
    """Every driver that calls ``grad_batch(θ, idx)`` once per step, at a valid configuration."""
    common = dict(n_steps=2, n_data=4, batch_size=2, rng=0)
    return {
        "bayesbinn": lambda: bayesbinn(grad_batch, m0, lr=0.1, temperature=1.0, **common),
        "ste": lambda: ste(grad_batch, m0, lr=0.1, **common),
        "dropout_sgd": lambda: dropout_sgd(grad_batch, m0, rho=0.1, keep_prob=0.5, **common),
        "ivon": lambda: ivon(grad_batch, m0, lr=0.1, ess=10.0, hess_init=1.0, **common),
    }


# -- callables' outputs --------------------------------------------------------------------------------------

@pytest.mark.parametrize("driver", ["bayesbinn", "ste", "dropout_sgd", "ivon"])
def test_a_complex_minibatch_gradient_is_refused_not_cast(driver):
    """Before: bayesbinn, ste and dropout_sgd cast it to real (silently), ivon called it non-finite."""
    call = _minibatch_drivers(lambda th, idx: th + 1j)[driver]
    with pytest.raises(TypeError, match=r"^the output of grad_batch must be an array of real numbers, got complex"):
        call()


@pytest.mark.parametrize("driver", ["bayesbinn", "ste", "dropout_sgd", "ivon"])
def test_a_gradient_of_shape_one_is_not_broadcast(driver):
    """Before: dropout_sgd broadcast a (1,) gradient to all three parameters."""
    call = _minibatch_drivers(lambda th, idx: np.ones(th.shape[:-1] + (1,)))[driver]
    with pytest.raises(ValueError, match=r"^grad_batch must return .* of shape \(.*3,?\) for (θ|w) of shape"):
        call()


@pytest.mark.parametrize("which, value, error, says", [
    ("grad", lambda th: th + 0j, TypeError, "^the output of grad must be an array of real numbers"),
    ("hess", lambda th: np.ones(3), ValueError, r"^hess must return a Hessian of shape \((10, )?2, 1, 1\)"),
    ("loss", lambda th: np.zeros(5), ValueError, r"^loss must return one loss per component of shape \((2,|10, 2)\)"),
])
@pytest.mark.parametrize("driver", ["newton", "vi"])
def test_mixture_callables_are_checked(which, value, error, says, driver):
    """Before: a complex gradient was cast to real; a Hessian of the wrong shape reached numpy.linalg."""
    loss, grad, hess = _mixture_parts({which: value})
    with pytest.raises(error, match=says):
        if driver == "newton":
            mixture_newton(loss, grad, hess, [[-1.0], [1.0]], rho=0.5, n_steps=2)
        else:
            mixture_vi(loss, grad, hess, [[-1.0], [1.0]], rho=0.5, n_steps=2, precisions0=EYE1, rng=0)


def test_a_complex_gradient_at_a_later_step_is_refused_by_rmsprop():
    """Before: only the first call was checked, and the complex iterate was cast to real when stored."""
    calls = {"n": 0}

    def grad(m):
        calls["n"] += 1
        return m + (1j if calls["n"] == 2 else 0)

    with pytest.raises(TypeError, match="^the output of grad must be an array of real numbers.* at step 2"):
        rmsprop(grad, np.ones(2), n_steps=3)


def test_bernoulli_blr_loss_is_checked():
    with pytest.raises(TypeError, match="^the output of loss must be an array of real numbers"):
        bernoulli_blr(lambda W: W[:, 0] + 0j, np.zeros(2), rho=0.5, n_steps=1)
    with pytest.raises(ValueError, match=r"^loss must return one value per weight vector of shape \(4,\)"):
        bernoulli_blr(lambda W: W[:, :1], np.zeros(2), rho=0.5, n_steps=1)


@pytest.mark.parametrize("driver", [online_gauss_newton, vogn])
def test_a_negative_sum_of_squares_from_grad_sums_names_it(driver):
    """Before: the precision shrank, and the error then named rho = 1 and grad_terms, neither given."""
    def grad_sums(theta, idx):
        return np.ones_like(theta), -np.ones_like(theta)

    with pytest.raises(ValueError, match=r"^grad_sums returned negative values for the sum of squares .* >= 0"):
        driver(None, np.zeros(2), rho=0.5, n_steps=2, n_data=4, batch_size=2, precision0=1.0, grad_sums=grad_sums,
               rng=0)


# -- hyperparameters: one validator per kind -----------------------------------------------------------------

G = lambda m: m  # noqa: E731


@pytest.mark.parametrize("call, name", [
    (lambda: adam(G, np.zeros(2), lr="0.1", n_steps=1), "lr"),
    (lambda: rmsprop(G, np.zeros(2), lr="0.1", n_steps=1), "lr"),
    (lambda: adam(G, np.zeros(2), eps=b"0", n_steps=1), "eps"),
    (lambda: gradient_descent(G, np.zeros(2), rho="0.5", n_steps=1), "rho"),
    (lambda: ste(lambda w, i: w, np.zeros(2), lr=["0.1"], n_steps=1, n_data=1, batch_size=1), "lr"),
    (lambda: ivon(lambda t, i: t, np.zeros(2), lr="0.1", ess=1.0, hess_init=1.0, n_steps=1, n_data=1, batch_size=1),
     "lr"),
])
def test_text_is_not_a_number(call, name):
    """Before: NumPy parsed '0.1' and the run went ahead."""
    with pytest.raises(TypeError, match=f"^{name} must be a number or an array of real numbers, got"):
        call()


@pytest.mark.parametrize("call, name", [
    (lambda: bayesbinn(lambda w, i: w, np.zeros(3), lr=0.1, temperature=np.ones(2), n_steps=1, n_data=1,
                       batch_size=1), "temperature"),
    (lambda: dropout_sgd(lambda w, i: w, np.zeros(3), rho=0.1, keep_prob=[0.5, 0.4], n_steps=1, n_data=1,
                         batch_size=1), "keep_prob"),
    (lambda: dropout_sgd(lambda w, i: w, np.zeros(3), rho=0.1, keep_prob=0.5, slab_sd=np.ones(2), n_steps=1,
                         n_data=1, batch_size=1), "slab_sd"),
    (lambda: mixture_vi(*_mixture_parts({}), [[-1.0], [1.0]], rho=0.5, n_steps=1, precisions0=EYE1,
                        rho_weights=np.ones(3)), "rho_weights"),
    (lambda: ivon(lambda t, i: t, np.zeros(2), lr=np.ones(2), ess=1.0, hess_init=1.0, n_steps=1, n_data=1,
                  batch_size=1), "lr"),
])
def test_an_array_where_a_scalar_is_documented_is_refused_by_name(call, name):
    """Before: raw broadcast errors, or NumPy's 'only 0-dimensional arrays can be converted'."""
    with pytest.raises(TypeError, match=f"^{name} must be a single number, got an array of shape"):
        call()


def test_a_per_problem_learning_rate_of_another_shape_is_named():
    """Adam's lr may be one per problem; another shape was a raw broadcast error."""
    with pytest.raises(ValueError, match=r"^lr must be a scalar or have the batch shape \(2,\)"):
        adam(G, np.ones((2, 3)), lr=np.array([0.1, 0.2, 0.3]), n_steps=1)


@pytest.mark.parametrize("driver", ["bayesbinn", "ste", "dropout_sgd", "ivon", "sgd"])
def test_a_count_beyond_int64_is_refused_by_name(driver):
    """Before: 'Maximum allowed size exceeded' (bayesbinn built N indices) or an OverflowError."""
    common = dict(n_steps=1, n_data=2**70, batch_size=1, rng=0)
    calls = {"bayesbinn": lambda: bayesbinn(lambda w, i: w, np.zeros(2), lr=0.1, temperature=1.0, **common),
             "ste": lambda: ste(lambda w, i: w, np.zeros(2), lr=0.1, **common),
             "dropout_sgd": lambda: dropout_sgd(lambda w, i: w, np.zeros(2), rho=0.1, keep_prob=0.5, **common),
             "ivon": lambda: ivon(lambda t, i: t, np.zeros(2), lr=0.1, ess=1.0, hess_init=1.0, **common),
             "sgd": lambda: stochastic_gradient_descent(lambda m, i: m, np.zeros(2), rho=0.1, **common)}
    with pytest.raises(ValueError, match=r"^n_data must be an integer <= 9223372036854775807"):
        calls[driver]()


def test_a_negative_int_seed_says_it_must_be_non_negative():
    """Before: 'rng must be a numpy.random.Generator, an int seed or None, got int' for an int."""
    with pytest.raises(ValueError, match="^rng must be .*an int seed must be non-negative, got -1"):
        ste(lambda w, i: w, np.zeros(2), lr=0.1, n_steps=1, n_data=2, batch_size=1, rng=-1)


# -- symmetric matrices: symmetry before definiteness ----------------------------------------------------------

def test_ncvmp_refuses_a_non_symmetric_precision0():
    """Lower triangle [[1, 0], [0, 1]] (a Cholesky factor exists), upper entry 3: before, accepted and the run
    diverged (the error blamed NC-VMP)."""
    X = np.array([[1.0, 0.5], [0.3, -1.0], [-1.2, 0.2], [0.8, 0.9]])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="^precision0 must be symmetric$"):
        ncvmp_logistic(X, y, alpha=1.0, n_steps=2, precision0=np.array([[1.0, 3.0], [0.0, 1.0]]))


# -- overflow ---------------------------------------------------------------------------------------------------

def test_adam_names_a_gradient_whose_square_overflows():
    """Before: g² overflowed in v and the step was silently 0 (or the error blamed NaN from grad)."""
    with pytest.raises(ValueError, match=r"^grad returned values up to 1e\+160 at step 1: their squares overflow"):
        adam(lambda m: np.full_like(m, 1e160), np.zeros(2), lr=0.1, n_steps=2)


def test_vmp_refuses_data_whose_squares_overflow_naming_the_argument(rng):
    """Before: NaN means and bounds, silently."""
    y = rng.normal(size=20)
    with pytest.raises(ValueError, match=r"^y holds values up to \|y\| = \d\.\d+e\+200.*rescale y"):
        vmp_normal_gamma(1e200 * y, n_steps=3)
    with pytest.raises(ValueError, match=r"^X holds values up to \|X\| = \d\.\d+e\+200.*rescale X"):
        vmp_linear_regression(1e200 * rng.normal(size=(20, 2)), y, alpha=1.0, n_steps=3)


def test_vmp_normal_gamma_keeps_the_spread_of_data_far_from_zero(rng):
    """At an offset of 1e12 the raw sums Σy², (Σy)² are ~1e26 and β, of the size of the spread (~N), cancelled to
    nothing; the driver centres the data. Oracle: the textbook CAVI on the same values less the offset (exact:
    Sterbenz), with the prior mean moved alike (VMP is shift-equivariant)."""
    c = 1e12
    y = (rng.normal(size=50) + c) - c   # the values the driver sees, less c, exactly
    m0, S0, a0, b0 = 0.0, 1e-2, 1.0, 1.0
    got = vmp_normal_gamma(y + c, mean_prior=(m0 + c, S0), precision_prior=(a0, b0), n_steps=5)
    _, S, alpha, beta = normal_gamma_cavi(y, m0, S0, a0, b0, a0, b0, 5)
    assert_close(got.betas[1:], beta[1:], CLOSED_FORM)
    assert_close(got.alphas[1:], alpha[1:], CLOSED_FORM)
    assert_close(got.precisions[1:], S[1:], CLOSED_FORM)


def test_em_on_data_beyond_the_square_root_of_the_largest_float(rng):
    """At 1e154 x xᵀ overflows: before, 'a component collapsed'. Oracle: the textbook EM on the unscaled data;
    the iterates scale as m ∝ s, S ∝ s⁻² (EM is scale-equivariant)."""
    X = np.concatenate([rng.normal(size=(20, 2)) - 3, rng.normal(size=(20, 2)) + 3])
    w0, m0, P0 = [0.5, 0.5], np.array([[-1.0, -1.0], [1.0, 1.0]]), np.stack([np.eye(2)] * 2)
    s = 1e154
    got = em_gaussian_mixture(X * s, weights0=w0, means0=m0 * s, precisions0=P0 / s / s, n_steps=5)
    want = textbook_em(X, w0, m0, P0, 5)
    assert_close(got.means / s, want.means, CLOSED_FORM)
    assert_close(got.precisions * s * s, want.precisions, CLOSED_FORM)
    assert_close(got.weights, want.weights, CLOSED_FORM)
    # log p(x) = log p(x / s) − D log s for each of the N observations
    assert_close(got.log_likelihood + X.size * np.log(s), want.log_likelihood, CLOSED_FORM)


# -- messages name the user's argument; legitimate numerical ends ------------------------------------------------

def test_kalman_filter_names_a_wrong_length_m0():
    """Before: 'F must have shape (*batch, 3, 3)' (D was read from m0)."""
    y = np.zeros((5, 1))
    with pytest.raises(ValueError, match=r"^m0 must have D = 2 states on its last axis"):
        kalman_filter(y, np.eye(2), np.eye(2), np.ones((1, 2)), np.eye(1), np.zeros(3), np.eye(2))


def test_kalman_em_names_the_covariance_that_became_singular(rng):
    """Two identical sensors: the fitted R has a zero eigenvalue after the first M-step. Before: LinAlgError."""
    x = np.cumsum(rng.normal(size=40))
    y = np.stack([x, x], axis=1)
    with pytest.raises(ValueError, match="^kalman_em: the fitted R became singular .* at iteration 1"):
        kalman_em(y, np.eye(1), np.eye(1), np.ones((2, 1)), np.eye(2), np.zeros(1), np.eye(1), n_steps=5,
                  fit=("R",))
