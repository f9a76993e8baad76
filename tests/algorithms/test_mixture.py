"""Multimodal optimisation (mixture_newton): the quartic of Khan & Rue (2023, Sec. 3.2) with its known
modes and Laplace evidences, the link to K independent Newton runs, batching, and bad input."""

import numpy as np
import pytest
import scipy.optimize

from blrkit.algorithms import MixtureResult, mixture_newton, mixture_vi, newton


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


# -- non-conjugate VI with a mixture (Sec. 5.4) ---------------------------------------------------

def _bimodal():
    from blrkit.verify.mixture import TARGET, bimodal

    return TARGET, bimodal()


def _kl_to_target(weights, means, variances, log_target):
    """KL(q ‖ target) by adaptive quadrature on [-12, 12] (both densities are negligible outside)."""
    import scipy.integrate
    import scipy.stats

    def q(x):
        return sum(w * scipy.stats.norm.pdf(x, m, np.sqrt(v)) for w, m, v in zip(weights, means, variances))
    value, _ = scipy.integrate.quad(lambda x: q(x) * (np.log(q(x)) - log_target(x)) if q(x) > 0 else 0.0,
                                    -12, 12, limit=200, points=[-2.0, 0.0, 2.0])
    return value


def test_mixture_vi_recovers_a_target_in_its_family_and_beats_one_gaussian():
    (w, mu, var), (loss, grad, hess) = _bimodal()
    res = mixture_vi(loss, grad, hess, [[-3.0], [3.0]], rho=0.2, rho_weights=0.1, n_steps=300,
                     precisions0=np.eye(1), n_samples=4, rng=1)
    # at q = target every Monte-Carlo estimate is zero: the iteration settles there to rounding
    np.testing.assert_allclose(res.weights, w, atol=1e-9)
    np.testing.assert_allclose(res.means[:, 0], mu, atol=1e-9)
    np.testing.assert_allclose(1 / res.precisions[:, 0, 0], var, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(res.precision_path) > 0)

    def log_target(x):
        return -loss(np.array([x]))
    kl_mixture = _kl_to_target(res.weights, res.means[:, 0], 1 / res.precisions[:, 0, 0], log_target)
    single = scipy.optimize.minimize(lambda p: _kl_to_target([1.0], [p[0]], [np.exp(p[1])], log_target),
                                     [1.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-10})
    assert abs(kl_mixture) < 1e-7 and single.fun > 0.1  # one Gaussian cannot cover both modes


def test_mixture_vi_one_component_is_gaussian_vi():
    """K = 1: log q is the Gaussian's, E[∇² log q] = −S exactly, and the step is the improved variational
    Newton; on a quadratic ℓ̄ = ½ a (θ − b)² the fixed point is N(b, 1/a) (closed form)."""
    a, b = 3.0, 0.7
    res = mixture_vi(lambda th: 0.5 * a * (th[..., 0] - b) ** 2, lambda th: a * (th - b),
                     lambda th: np.full(th.shape + (1,), a), [[2.0]], rho=0.5, n_steps=60, precisions0=np.eye(1),
                     n_samples=3, rng=0)
    np.testing.assert_allclose(res.means[0, 0], b, atol=1e-6)  # the MC noise in the gradient is (θ − b)a, →0
    np.testing.assert_allclose(res.precisions[0, 0, 0], a, rtol=1e-12)
    np.testing.assert_allclose(res.weights, [1.0])


@pytest.mark.parametrize("change, match", [
    (dict(rho_weights=0.0), "rho_weights"), (dict(n_samples=0), "n_samples"), (dict(precisions0=None), "precisions0"),
    (dict(weights0=[0.9, 0.2]), "simplex"),
])
def test_mixture_vi_bad_input_is_named(change, match):
    (_, _, _), (loss, grad, hess) = _bimodal()
    kwargs = dict(rho=0.2, n_steps=2, precisions0=np.eye(1), rng=0) | change
    with pytest.raises(ValueError, match=match):
        mixture_vi(loss, grad, hess, [[-3.0], [3.0]], **kwargs)


def test_mixture_vi_names_a_nan_at_a_sample():
    (_, _, _), (loss, grad, hess) = _bimodal()
    with pytest.raises(ValueError, match="grad is not finite at a sample of component 1 at step 1"):
        mixture_vi(loss, lambda th: np.where(th > 0, np.nan, grad(th)), hess, [[-3.0], [3.0]], rho=0.2,
                   n_steps=2, precisions0=np.eye(1), rng=0)


# -- another array library (issue #15) ------------------------------------------------------------------------

MIXTURE_FIELDS = ("means", "precisions", "weights", "mean_path", "precision_path", "weight_path")

def test_on_another_array_library_equals_numpy(other_library):
    """Both drivers, ten steps, from starts given as arrays (and from the defaults): the same result as on NumPy,
    in the other library's arrays; the user's callables are NumPy functions behind the library's converter, and
    mixture_vi's draws come from the same seed on the host (tolerances in algorithms.other_library)."""
    from algorithms.other_library import assert_same_result

    lib = other_library
    starts = np.array([[[-1.5], [1.5]], [[-1.0], [2.5]]])
    args = dict(rho=np.array([0.5, 0.3]), precisions0=8.0 * np.eye(1), weights0=np.array([0.4, 0.6]))
    fns = (quartic, quartic_grad, quartic_hess)
    want = mixture_newton(*fns, starts, **args, n_steps=10)
    got = mixture_newton(*map(lib.wrap, fns), lib.to(starts), **{k: lib.to(v) for k, v in args.items()}, n_steps=10)
    assert_same_result(got, want, lib, MIXTURE_FIELDS)
    # a list of starts with the other library's precisions: computed with that library
    want = mixture_newton(*fns, starts[1], rho=0.5, precisions0=8.0 * np.eye(1), n_steps=10)
    got = mixture_newton(*map(lib.wrap, fns), starts[1].tolist(), rho=0.5, precisions0=lib.to(8.0 * np.eye(1)),
                         n_steps=10)
    assert_same_result(got, want, lib, MIXTURE_FIELDS)
    want = mixture_newton(*fns, starts[0], rho=0.5, n_steps=10)
    assert_same_result(mixture_newton(*map(lib.wrap, fns), lib.to(starts[0]), rho=0.5, n_steps=10), want, lib,
                       MIXTURE_FIELDS)

    (w, mu, var), fns = _bimodal()
    args = dict(rho=0.2, rho_weights=0.1, n_samples=5)
    want = mixture_vi(*fns, np.array([[-3.0], [3.0]]), precisions0=np.eye(1), **args, n_steps=10, rng=4)
    got = mixture_vi(*map(lib.wrap, fns), lib.to(np.array([[-3.0], [3.0]])), precisions0=lib.to(np.eye(1)), **args,
                     n_steps=10, rng=4)
    assert_same_result(got, want, lib, MIXTURE_FIELDS)


def test_mixing_numpy_with_another_library_names_the_argument():
    xp = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"^precisions0 comes from array_api_strict \(Array\) but means0 from NumPy"):
        mixture_newton(quartic, quartic_grad, quartic_hess, np.array([[-1.5], [1.5]]), rho=0.5, n_steps=1,
                       precisions0=xp.asarray([[8.0]]))
    with pytest.raises(TypeError, match=r"^rho_weights comes from array_api_strict \(Array\) but means0 from NumPy"):
        (_, _, _), fns = _bimodal()
        mixture_vi(*fns, np.array([[-3.0], [3.0]]), rho=0.2, rho_weights=xp.asarray(0.1), precisions0=np.eye(1),
                   n_steps=1)


def test_a_callable_returning_another_library_is_named():
    """grad gives NumPy arrays for the other library's means: a TypeError naming its output."""
    xp = pytest.importorskip("array_api_strict")
    lib_hess = lambda th: xp.asarray(quartic_hess(np.from_dlpack(th)))  # noqa: E731
    lib_loss = lambda th: xp.asarray(quartic(np.from_dlpack(th)))  # noqa: E731
    with pytest.raises(TypeError, match=r"^grad returned a NumPy array \(ndarray\) for θ from array_api_strict"):
        mixture_newton(lib_loss, lambda th: quartic_grad(np.from_dlpack(th)), lib_hess, xp.asarray([[-1.5], [1.5]]),
                       rho=0.5, n_steps=1)
