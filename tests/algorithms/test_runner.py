"""The runner's validation of user callables (issue #27, "older drivers check only the first call"): every call
of every callable is checked, so a callable that answers well twice and badly on its third call is caught,
named, with what was wrong (complex refused not cast, a (1,) answer not broadcast, NaN not carried on). One
parametrised test over every driver that takes a callable."""

import numpy as np
import pytest

from blrkit.algorithms import (
    adam,
    bayesbinn,
    bernoulli_blr,
    diagonal_newton,
    dropout_sgd,
    gradient_descent,
    ivon,
    laplace,
    mixture_newton,
    mixture_vi,
    newton,
    online_gauss_newton,
    rmsprop,
    ste,
    stochastic_gradient_descent,
    variational_newton,
    vogn,
)

M0 = np.array([1.0, -0.5])
EYE = np.eye(2)
MINI = dict(n_data=6, batch_size=3, rng=0, n_steps=6)


def grad(m, *idx):
    return 0.5 * m


def hess(m):
    return np.broadcast_to(EYE, m.shape + m.shape[-1:]).copy()


def hess_diag(m):
    return np.ones_like(m)


def per_example(m, idx):
    return np.broadcast_to(0.5 * m[..., None, :], m.shape[:-1] + (len(idx), m.shape[-1])).copy()


def sums(m, idx):
    g = 0.5 * len(idx) * m
    return g, 0.25 * len(idx) * m * m + 1.0


def mixture_loss(th):
    return 0.5 * np.sum(th**2, -1)


def bernoulli_loss(W):
    return np.sum(W**2, -1) - W[:, 0]


#: driver name -> (run given the callables by name, the good callables, the callable that goes bad)
CASES = {
    "gradient_descent": (lambda f: gradient_descent(f["grad"], M0, rho=0.5, n_steps=6), {"grad": grad}),
    "stochastic_gradient_descent": (lambda f: stochastic_gradient_descent(f["grad_terms"], M0, rho=0.1, **MINI),
                                    {"grad_terms": grad}),
    "rmsprop": (lambda f: rmsprop(f["grad"], M0, lr=0.1, n_steps=6), {"grad": grad}),
    "adam": (lambda f: adam(f["grad"], M0, lr=0.1, n_steps=6), {"grad": grad}),
    "newton": (lambda f: newton(f["grad"], f["hess"], M0, rho=0.5, precision0=EYE, n_steps=6),
               {"grad": grad, "hess": hess}),
    "variational_newton": (lambda f: variational_newton(f["grad"], f["hess"], M0, rho=0.5, precision0=EYE,
                                                        n_steps=6, rng=0), {"grad": grad, "hess": hess}),
    "diagonal_newton": (lambda f: diagonal_newton(f["grad"], f["hess_diag"], M0, rho=0.5, precision0=1.0,
                                                  n_steps=6), {"grad": grad, "hess_diag": hess_diag}),
    "laplace": (lambda f: laplace(f["grad"], f["hess"], M0, rho=0.5, precision0=EYE, max_steps=80),
                {"grad": grad, "hess": hess}),
    "online_gauss_newton": (lambda f: online_gauss_newton(f["grad_terms"], M0, rho=0.5, precision0=1.0, **MINI),
                            {"grad_terms": per_example}),
    "online_gauss_newton (grad_sums)": (lambda f: online_gauss_newton(None, M0, rho=0.5, precision0=1.0,
                                                                      grad_sums=f["grad_sums"], **MINI),
                                        {"grad_sums": sums}),
    "vogn": (lambda f: vogn(f["grad_terms"], M0, rho=0.5, precision0=1.0, **MINI), {"grad_terms": per_example}),
    "ivon": (lambda f: ivon(f["grad_batch"], M0, lr=0.1, ess=10.0, hess_init=1.0, **MINI),
             {"grad_batch": grad}),
    "dropout_sgd": (lambda f: dropout_sgd(f["grad_batch"], M0, rho=0.1, keep_prob=0.5, **MINI),
                    {"grad_batch": grad}),
    "bayesbinn": (lambda f: bayesbinn(f["grad_batch"], M0, lr=0.1, temperature=1.0, **MINI),
                  {"grad_batch": grad}),
    "ste": (lambda f: ste(f["grad_batch"], M0, lr=0.1, **MINI), {"grad_batch": grad}),
    "bernoulli_blr": (lambda f: bernoulli_blr(f["loss"], np.zeros(2), rho=0.5, n_steps=6),
                      {"loss": bernoulli_loss}),
    "mixture_newton": (lambda f: mixture_newton(f["loss"], f["grad"], f["hess"], np.stack([M0, -M0]), rho=0.5,
                                                n_steps=6), {"loss": mixture_loss, "grad": grad, "hess": hess}),
    "mixture_vi": (lambda f: mixture_vi(f["loss"], f["grad"], f["hess"], np.stack([M0, -M0]), rho=0.5, n_steps=6,
                                        precisions0=EYE, n_samples=2, rng=0),
                   {"loss": mixture_loss, "grad": grad, "hess": hess}),
}

#: how the third answer goes wrong, and what the message must then say besides the callable's name
BAD = {
    "complex": (lambda out: np.asarray(out) + 1e-3j, TypeError, "complex"),
    "shape (1,)": (lambda out: np.asarray(out).reshape(-1)[:1], ValueError, "shape"),
    "NaN": (lambda out: np.full(np.shape(out), np.nan), ValueError, "NaN|non-finite|not finite"),
}


def _bad_on_call(fn, k, spoil):
    calls = [0]

    def wrapped(*args):
        calls[0] += 1
        out = fn(*args)
        if calls[0] == k:
            return tuple(spoil(o) for o in out) if isinstance(out, tuple) else spoil(out)
        return out

    return wrapped, calls


def _cases():
    for driver, (_, good) in CASES.items():
        for name in good:
            for kind in BAD:
                yield pytest.param(driver, name, kind, id=f"{driver}-{name}-{kind}")


@pytest.mark.parametrize("driver", list(CASES))
def test_every_case_runs_with_good_callables(driver):
    """The baseline: the good callables run the driver through (so a failure below is the bad answer's)."""
    run, good = CASES[driver]
    run(good)


@pytest.mark.parametrize(("driver", "name", "kind"), list(_cases()))
def test_a_callable_bad_on_its_third_call_is_caught_naming_it(driver, name, kind):
    run, good = CASES[driver]
    spoil, error, said = BAD[kind]
    callables = dict(good)
    callables[name], calls = _bad_on_call(good[name], 3, spoil)
    with pytest.raises(error, match=f"(?s)(?=.*\\b{name}\\b)(?=.*({said}))"):
        run(callables)
    assert calls[0] >= 3  # the bad answer was given (and the first two were accepted)
