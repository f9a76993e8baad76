"""Multimodal optimisation (mixture_newton): the quartic of Khan & Rue (2023, Sec. 3.2) with its known
modes and Laplace evidences, the link to K independent Newton runs, batching, and bad input."""

import numpy as np
import pytest
import scipy.optimize

from blrkit.algorithms import MixtureResult, mixture_newton, newton


def quartic(th):
    x = th[..., 0]
    return x**4 / 4 - 2 * x**2 + x / 2


def quartic_grad(th):
    return th**3 - 4 * th + 0.5


def quartic_hess(th):
    return (3 * th**2 - 4)[..., None]


#: 80 damped steps (ρ = 0.5) contract to the modes to rounding; SciPy's minima at gtol 1e-12.
MODES = 1e-9


def test_the_quartic_modes_and_their_laplace_evidences():
    """Starts −1.5, 1.3, 1.5 (Sec. 2.3 (f) of the derivations starts at 0.3, where ℓ̄'' < 0 and the plain
    rule's precision leaves the cone: see the last test): two components end in the right-hand mode and
    both keep its full Laplace evidence (the responsibility approximation does not see the overlap)."""
    starts = [[-1.5], [1.3], [1.5]]
    res = mixture_newton(quartic, quartic_grad, quartic_hess, starts, rho=0.5, n_steps=80,
                         precisions0=10.0 * np.eye(1))
    assert isinstance(res, MixtureResult)
    modes = [scipy.optimize.minimize(lambda x: quartic(x), x0, jac=quartic_grad, method="BFGS", options={"gtol": 1e-12}).x
             for x0 in starts]
    np.testing.assert_allclose(res.means, modes, atol=MODES)
    np.testing.assert_allclose(res.means[:, 0], [-2.0598, 1.9343, 1.9343], atol=1e-4)  # Sec. 2.3 (f)
    np.testing.assert_allclose(res.precisions, quartic_hess(res.means), rtol=MODES)
    evidence = np.exp(-quartic(res.means)) / np.sqrt(quartic_hess(res.means)[..., 0, 0])
    np.testing.assert_allclose(res.weights, evidence / evidence.sum(), rtol=1e-8)
    assert res.mean_path.shape == (81, 3, 1) and res.weight_path.shape == (81, 3)


def test_unit_step_is_k_independent_newton_runs():
    starts = np.array([[-2.5], [2.5]])
    res = mixture_newton(quartic, quartic_grad, quartic_hess, starts, rho=1.0, n_steps=6)
    for k in range(2):
        alone = newton(quartic_grad, quartic_hess, starts[k], n_steps=6)
        np.testing.assert_allclose(res.mean_path[:, k], alone.means, rtol=1e-13)


def test_batches_are_independent_problems():
    starts = np.array([[[-1.5], [1.5]], [[-2.5], [2.2]]])
    both = mixture_newton(quartic, quartic_grad, quartic_hess, starts, rho=np.array([0.5, 0.3]), n_steps=10,
                          precisions0=8.0 * np.eye(1))
    for b, r in enumerate((0.5, 0.3)):
        one = mixture_newton(quartic, quartic_grad, quartic_hess, starts[b], rho=r, n_steps=10,
                             precisions0=8.0 * np.eye(1))
        np.testing.assert_allclose(both.mean_path[:, b], one.mean_path, rtol=1e-14)
        np.testing.assert_allclose(both.weight_path[:, b], one.weight_path, rtol=1e-13)


def test_inputs_are_not_mutated():
    m0, S0, w0 = np.array([[-1.5], [1.5]]), 8.0 * np.ones((2, 1, 1)), np.array([0.3, 0.7])
    mixture_newton(quartic, quartic_grad, quartic_hess, m0, rho=0.5, n_steps=3, precisions0=S0, weights0=w0)
    assert m0.tolist() == [[-1.5], [1.5]] and np.all(S0 == 8.0) and w0.tolist() == [0.3, 0.7]


@pytest.mark.parametrize("change, error, match", [
    (dict(weights0=[0.5, 0.6]), ValueError, "simplex"),
    (dict(weights0=[1.2, -0.2]), ValueError, "simplex"),
    (dict(weights0=[0.2, 0.3, 0.5]), ValueError, "weights0 must broadcast"),
    (dict(precisions0=-np.eye(1)), ValueError, "precisions0 of component 0 is not positive definite"),
    (dict(precisions0=np.ones((3, 1, 1))), ValueError, "precisions0 must broadcast"),
    (dict(rho=0.0), ValueError, "rho"),
    (dict(n_steps=-1), ValueError, "n_steps"),
])
def test_bad_input_is_named(change, error, match):
    kwargs = dict(rho=0.5, n_steps=3, precisions0=8.0 * np.eye(1)) | change
    with pytest.raises(error, match=match):
        mixture_newton(quartic, quartic_grad, quartic_hess, [[-1.5], [1.5]], **kwargs)


def test_no_component_and_a_loss_that_is_nan_at_a_component():
    with pytest.raises(ValueError, match="K, D ≥ 1"):
        mixture_newton(quartic, quartic_grad, quartic_hess, np.zeros((0, 1)), rho=0.5, n_steps=1)

    def loss(th):
        out = quartic(th)
        return np.where(th[..., 0] > 1, np.nan, out)
    with pytest.raises(ValueError, match="loss is not finite at the mean of component 1 at step 1"):
        mixture_newton(loss, quartic_grad, quartic_hess, [[-1.5], [1.5]], rho=0.5, n_steps=2,
                       precisions0=8.0 * np.eye(1))


def test_a_precision_leaving_the_cone_names_the_component_and_step():
    with pytest.raises(ValueError, match="component 1 is not positive definite: lower rho"):
        mixture_newton(quartic, quartic_grad, quartic_hess, [[-1.5], [0.3], [1.5]], rho=0.5, n_steps=80,
                       precisions0=10.0 * np.eye(1))
