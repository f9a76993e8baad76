"""A wrong emitted step inside a driver: a ValueError naming the update (or its iterate), never NumPy's
``LinAlgError``, Python's ``OverflowError`` or a silent invalid posterior (issue #23, item 6 and "Bad input").

The drivers' inputs are checked before their loops, so an arithmetic failure inside the loop is the step's. Each
case installs a step that fails (or a wrong step, written here by hand from the committed one) where the driver
imports it, the way ``blrkit.verify.variants`` installs a variant. Every case failed before (the error in brackets):
the raising steps [LinAlgError or OverflowError escaped from all 11 drivers], the Kalman update with −R in C and the
VMP regression sweep with an indefinite precision [LinAlgError from the Cholesky of the log-likelihood or bound],
the sweep with a negative rate [the same LinAlgError one sweep later], the conjugate updates with a non-positive
parameter [returned silently], and a float16 gradient [NumPy's "array type float16 is unsupported in linalg"].
"""

import functools
import sys

import numpy as np
import pytest

import blrkit.algorithms as alg
from blrkit.algorithms import conjugate
from fuzz_checks import raised_by_blrkit

R = np.random.default_rng(0)
X6, Y6 = R.normal(size=(6, 2)), R.normal(size=6)
EYE = np.eye(2)


def grad(m):
    return m - 1.0


def hess(m):
    return np.broadcast_to(EYE, m.shape + (2,)).copy()


def grad_terms(m, idx):
    return np.repeat((m - 1.0)[..., None, :], len(idx), axis=-2)


#: step name -> a tiny valid call of a driver that loops it
CALLS = {
    "laplace_step": lambda: alg.laplace(grad, hess, np.zeros(2), max_steps=3),
    "ogn_step": lambda: alg.online_gauss_newton(grad_terms, np.zeros(2), rho=0.5, n_steps=2, n_data=4, batch_size=2,
                                                precision0=np.ones(2), rng=0),
    "vogn_step": lambda: alg.vogn(grad_terms, np.zeros(2), rho=0.5, n_steps=2, n_data=4, batch_size=2,
                                  precision0=np.ones(2), rng=0),
    "ivon_step": lambda: alg.ivon(lambda m, idx: m - 1.0, np.zeros(2), lr=0.1, ess=10.0, hess_init=1.0, n_steps=2,
                                  n_data=4, batch_size=2, rng=0),
    "em_step": lambda: alg.em_gaussian_mixture(X6, weights0=[0.5, 0.5], means0=[[-1.0, 0.0], [1.0, 0.0]],
                                               precisions0=np.stack([EYE, EYE]), n_steps=2),
    "ncvmp_step": lambda: alg.ncvmp_logistic(X6, (Y6 > 0).astype(float), alpha=1.0, n_steps=2),
    "ridge_posterior": lambda: alg.ridge(X6, Y6, 1.0),
    "vmp_sweep": lambda: alg.vmp_normal_gamma(Y6, n_steps=2),
    "vmp_regression_sweep": lambda: alg.vmp_linear_regression(X6, Y6, alpha=1.0, n_steps=2),
    "svi_lda_step": lambda: alg.svi_lda([np.array([[3.0, 0.0, 1.0]])], lambda0=np.ones((2, 3)), doc_topic_prior=0.5,
                                        topic_word_prior=0.1, total_docs=10),
    "kalman_update": lambda: alg.kalman_filter(Y6[:, None], EYE[:1, :1], EYE[:1, :1], EYE[:1, :1], EYE[:1, :1],
                                               np.zeros(1), EYE[:1, :1]),
}


def install(monkeypatch, name, make):
    """``make(original)`` in place of the emitted step ``name`` in every driver module that imports it."""
    holders = [m for n, m in list(sys.modules.items()) if n.startswith("blrkit.algorithms.")
               and "._generated" not in n and callable(getattr(m, name, None))]
    assert holders, name
    original = getattr(holders[0], name)
    for m in holders:
        monkeypatch.setattr(m, name, make(original))


def named_error(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert raised_by_blrkit(info.value), info.value
    return info.value


def raising(error):
    def step(*args, **kwargs):
        raise error
    return step


@pytest.mark.parametrize("error", [np.linalg.LinAlgError("Matrix is not positive definite"),
                                   OverflowError(34, "Numerical result out of range")], ids=["LinAlgError", "Overflow"])
@pytest.mark.parametrize("step", sorted(CALLS))
def test_a_step_whose_arithmetic_fails_is_a_named_error(monkeypatch, step, error):
    CALLS[step]()  # the call is valid
    install(monkeypatch, step, lambda original: raising(error))
    # the message names the update, its step, or the iterate that failed (EM's and Newton's own messages name the
    # component's covariance or the precision; the others give the error's type)
    e = named_error(CALLS[step], "update|step [0-9]|Kalman|bound")
    assert type(error).__name__ in str(e) or step in ("em_step", "laplace_step"), e


def test_a_kalman_update_with_minus_r_in_c_names_the_innovation_covariance(monkeypatch):
    # the variant "-R for R in C": C = H P̂ Hᵀ − R, indefinite when R dominates
    install(monkeypatch, "kalman_update", lambda original: lambda m, P, y, H, R, d: original(m, P, y, H, -4 * R, d))
    named_error(CALLS["kalman_update"], r"innovation covariance C = H P̂ Hᵀ \+ R must be positive definite")


@pytest.mark.parametrize("wrong, match", [
    (lambda m, S, a, b: (m, -S, a, b), "evidence lower bound"),   # an indefinite precision of q(w)
    (lambda m, S, a, b: (m, S, a, -b), "VMP sweep 1 .* not positive"),  # a negative rate of q(τ)
])
def test_a_wrong_vmp_regression_sweep_is_named(monkeypatch, wrong, match):
    install(monkeypatch, "vmp_regression_sweep", lambda original: lambda *a: wrong(*original(*a)))
    named_error(CALLS["vmp_regression_sweep"], match)


@pytest.mark.parametrize("step, call", [
    ("beta_bernoulli_posterior", lambda: conjugate.beta_bernoulli([1.0, 0.0], alpha0=1.0, beta0=1.0)),
    ("gamma_poisson_posterior", lambda: conjugate.gamma_poisson([1.0, 0.0], alpha0=1.0, beta0=1.0)),
    ("dirichlet_categorical_posterior", lambda: conjugate.dirichlet_categorical([0, 1], alpha0=np.ones(2))),
    ("gaussian_mean_posterior", lambda: conjugate.gaussian_mean([1.0], m0=0.0, precision0=1.0, noise_variance=1.0)),
    ("normal_gamma_posterior", lambda: conjugate.normal_gamma([1.0, 2.0], m0=0.0, kappa0=1.0, alpha0=1.0, beta0=1.0)),
])
def test_a_conjugate_update_giving_a_non_positive_parameter_is_named(monkeypatch, step, call):
    # the wrong step: every output negated (the variants "sign of y[i] in alpha_new", "y - 1 for y in alpha_new"
    # make the Dirichlet's α negative): a mean may take any sign, a precision, κ, α or β may not
    def negated(original):
        @functools.wraps(original)
        def wrong(*args):
            out = original(*args)
            return tuple(-o for o in out) if isinstance(out, tuple) else -out
        return wrong

    call()
    install(monkeypatch, step, negated)
    named_error(call, f"the update step {step} gave a posterior .* that is not positive")


def test_a_float16_gradient_is_refused_naming_grad():
    with pytest.raises(TypeError, match="^grad must return real numbers .*not float16.*, got dtype float16 at step 1"):
        alg.newton(lambda m: (m - 1.0).astype(np.float16), hess, np.zeros(2), n_steps=2)


def test_iterate_refuses_an_argument_that_reshapes_the_state():
    # found by the public-API fuzz once iterate was exported: S_0 of shape (7,) broadcast the scalar state to (7,),
    # and NumPy's "setting an array element with a sequence" escaped from the iterates' rows
    from blrkit.algorithms._generated.svi import svi_step

    with pytest.raises(ValueError, match=r"svi_step returned the state m, S with the shapes \[\(7,\), \(7,\)\] at "
                                         r"step 1, not its start's \[\(\), \(\)\].*S_0 \(7,\)"):
        alg.iterate(svi_step, 2, state={"m": 0.0, "S": 1.0}, rho=0.5, m_0=0.0, S_0=np.ones(7), y=Y6,
                    noise_variance=1.0, n_data=6)
