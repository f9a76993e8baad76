"""The numerical certificate (blrkit.derive.certify): it passes the emitted steps, and it fails wrong ones.

The certificate compares an emitted step with a BLR step computed by numbers (rules for q_t, complex-step
natural gradients) that shares no code with the derivation. A check that cannot fail checks nothing, so
for each family and each kind of approximation a wrong variant of the emitted step (a flipped sign of ρ,
a dropped (1 − ρ), the old precision where the new one belongs, a dropped N/M) is made from the
derivation's own assignments, emitted, and must fail its certificate. The defects the support matrix
found are pinned here too, each by the request that showed it.
"""

import dataclasses

import numpy as np
import pytest
import sympy as sp

from blrkit.derive import RHO, derive
from blrkit.derive.certify import Certificate, CertificateError, certify, natural_gradient
from blrkit.derive.derivation import Assignment
from blrkit.derive.support import Request, arguments


def derived(family, loss=None, prior="default", approximations=(), rule="blr"):
    return derive(*arguments(Request(family, loss, prior, tuple(approximations), rule)), rule=rule)


# -- the numeric core against closed forms ----------------------------------------------------------------

def test_natural_gradient_of_a_gaussian_is_bonnet_and_price():
    """Under N(m, v), E[θ³] = m³ + 3mv: ∇_μ in μ = (m, m² + v) is (3v − 3m², 3m) (Bonnet/Price by hand)."""
    m, v = 0.3, 0.5
    z, w = np.polynomial.hermite_e.hermegauss(30)
    theta = m + np.sqrt(v) * z
    T = np.stack([theta, theta**2], -1)
    got = natural_gradient(T, theta**3, w / w.sum())
    # E[θ³] = 3 μ₁ μ₂ − 2 μ₁³: ∂/∂μ₁ = 3μ₂ − 6μ₁², ∂/∂μ₂ = 3μ₁
    mu1, mu2 = m, m**2 + v
    np.testing.assert_allclose(got, [3 * mu2 - 6 * mu1**2, 3 * mu1], rtol=1e-12)


def test_certificate_states_its_method_tolerance_and_approximations():
    c = certify(derived("gamma", "theta**2 - 3*log(theta)", approximations=["rho=1/2"]))
    assert isinstance(c, Certificate) and c.passed and bool(c)
    assert c.method.startswith("trapezoid rule on log θ") and c.states == 3
    assert c.error <= c.tolerance and "rounding" in c.reason and c.numeric == ("rho=1/2",)
    assert "PASS" in c.text()


def test_named_rewrites_are_left_to_the_counterpart():
    c = certify(derived("diagonal-gaussian", "oracle", "none", ["delta", "stochastic", "squared-gradient",
                                                                "per-example-scale", "square-root", "decoupled-step"]))
    assert c.counterpart == ("squared-gradient", "per-example-scale", "square-root", "decoupled-step")
    assert c.numeric == ("delta", "stochastic")
    assert "blrkit verify" in c.text()


def test_a_path_without_a_request_is_not_certified_here():
    with pytest.raises(CertificateError, match="counterpart"):
        certify(derive("categorical+gaussian", approximations=["delta", "rho=1"]))


# -- wrong variants: one per family and kind of approximation --------------------------------------------

def _state(target):
    name = target.name[:-4]
    return sp.MatrixSymbol(name, *target.shape) if isinstance(target, sp.MatrixSymbol) else sp.Symbol(name)


def flip_sign(target, expr):
    """ρ → −ρ in every update: the step goes the wrong way."""
    return expr.xreplace({RHO: -RHO})


def drop_one_minus_rho(target, expr):
    """(1 − ρ)λ_t → λ_t: the old state is not discounted."""
    if expr.has(1 - RHO):
        return expr.xreplace({1 - RHO: sp.S.One})
    state = [s for s in expr.free_symbols if s.name == target.name[:-4]]
    terms = sp.Add.make_args(sp.expand(expr))
    return sp.Add(*[t for t in terms if not (state and t == -RHO * state[0])])


def old_precision(target, expr):
    """The mean moves with S_t where S_{t+1} belongs."""
    news = [s for s in expr.free_symbols | expr.atoms(sp.MatrixSymbol) if getattr(s, "name", "") in ("S_new", "s_new")]
    return expr.xreplace({s: _state(s) for s in news})


def drop_n_over_m(target, expr):
    """N/M → 1: the minibatch is not scaled up to the whole sum."""
    out = expr
    for s in expr.free_symbols:
        if s.name == "n_data":
            batch = [b for b in expr.free_symbols if b.name in ("n_batch", "M")]
            out = out.xreplace({s: batch[0]}) if batch else out
    return out


def variant(d, mutation):
    new = tuple(Assignment(a.target, mutation(a.target, a.expr), a.comment) for a in d.assignments)
    assert new != d.assignments, f"{mutation.__name__} does not apply to {d.title}"
    return dataclasses.replace(d, assignments=new).compile()


WRONG = [
    # Gaussian candidates: exact expectations, Monte Carlo, delta, Gauss–Newton, minibatches
    (("multivariate-gaussian", "oracle", "none", ()), (flip_sign, drop_one_minus_rho, old_precision)),
    (("multivariate-gaussian", "theta_1**4 - 2*theta_1**2 + theta_1*theta_2", "default", ()),
     (flip_sign, drop_one_minus_rho, old_precision)),
    (("multivariate-gaussian", "glm:logistic", "isotropic", ("delta",)), (flip_sign, drop_one_minus_rho, old_precision)),
    (("diagonal-gaussian", "oracle", "none", ("delta",)), (flip_sign, drop_one_minus_rho, old_precision)),
    (("diagonal-gaussian", "oracle", "none", ("gauss-newton", "stochastic")),
     (flip_sign, drop_one_minus_rho, old_precision, drop_n_over_m)),
    (("diagonal-gaussian", "glm:logistic", "isotropic", ("delta", "gauss-newton")), (old_precision, drop_one_minus_rho)),
    (("gaussian-fixed-covariance", "oracle", "none", ("delta", "stochastic")), (flip_sign, drop_n_over_m)),
    (("gaussian-fixed-covariance", "glm:poisson", "isotropic", ("delta",)), (flip_sign,)),
    (("multivariate-gaussian", "oracle", "none", ("fixed-covariance",)), (flip_sign,)),
    # exponential families by F(λ)⁻¹∇_λ: conjugate, closed form, minibatches, enumeration, user families;
    # (1 − ρ) is dropped where the standard parameters are linear in λ (elsewhere it is not one term)
    (("gaussian", None, "default", ()), (flip_sign, drop_one_minus_rho)),
    (("gaussian", "theta**4 - theta", "default", ()), (flip_sign, drop_one_minus_rho)),
    (("beta", None, "default", ()), (flip_sign, drop_one_minus_rho)),
    (("beta", None, "default", ("stochastic",)), (drop_n_over_m,)),
    (("gamma", "theta**2 - 3*log(theta)", "default", ()), (flip_sign, drop_one_minus_rho)),
    (("exponential", "2*theta + exp(theta/2)", "default", ()), (flip_sign, drop_one_minus_rho)),
    (("poisson", "theta + exp(-theta)", "default", ()), (flip_sign,)),
    (("bernoulli", "3*theta - 1", "default", ()), (flip_sign,)),
    (("categorical", "theta_1 - 2*theta_2", "default", ()), (flip_sign,)),
    (("dirichlet", None, "default", ("stochastic",)), (flip_sign, drop_one_minus_rho, drop_n_over_m)),
    (("normal-gamma", None, "default", ()), (flip_sign, drop_one_minus_rho)),
    (("von-mises", "2*cos(theta - 1)", "default", ()), (flip_sign,)),
    (("inverse-gaussian", "theta + 1/theta", "default", ()), (flip_sign,)),
]


@pytest.mark.parametrize("request_, mutations", WRONG, ids=[" | ".join(map(str, r)) for r, _ in WRONG])
def test_wrong_variants_fail_their_certificate(request_, mutations):
    d = derived(*request_)
    assert certify(d).passed  # the emitted step itself passes
    for mutation in mutations:
        c = certify(d, step=variant(d, mutation), states=2)
        assert not c.passed, f"{mutation.__name__}: error {c.error:.1e} within {c.tolerance:.1e}"


def test_a_step_that_raises_fails_its_certificate():
    d = derived("beta", None)

    def broken(**kwargs):
        raise NameError("name 'alpha_1' is not defined")

    c = certify(d, step=broken)
    assert not c.passed and "NameError" in c.reason


# -- the defects the support matrix found (each failed before its fix) -----------------------------------

def test_fixed_covariance_without_the_delta_method_runs():
    """The emitted step drew θ from an undefined S (NameError); q = N(m, I) draws θ = m + ε."""
    for loss in ("oracle", "theta_1**4 - 2*theta_1**2 + theta_1*theta_2"):
        d = derived("gaussian-fixed-covariance", loss, "none" if loss == "oracle" else "default")
        assert "S" not in {a.name for a in d.arguments} and certify(d).passed


def test_scalar_gaussian_takes_polynomial_expectations_exactly():
    """θ⁴ − θ under the scalar Gaussian was estimated by Monte Carlo, where multivariate-gaussian is exact."""
    d = derived("gaussian", "theta**4 - theta")
    assert "n_samples" not in {a.name for a in d.arguments}
    c = certify(d)
    assert c.passed and c.tolerance < 1e-8


def test_gamma_shifted_partition_stays_real():
    """E[e^{−θ}] under a Gamma forced log(−λ₂) = log λ₂ + iπ: a complex, wrong step (error ~9 before)."""
    d = derived("gamma", "exp(-theta)", approximations=["rho=1/2"])
    assert "I" not in {s.name for eq in d.update for s in eq.rhs.free_symbols}
    assert certify(d).passed


def test_loss_linear_in_statistics_after_a_trigonometric_expansion():
    """cos(θ − 1) = cos 1 cos θ + sin 1 sin θ is linear in the von Mises T(θ) = (cos θ, sin θ): conjugate."""
    d = derived("von-mises", "2*cos(theta - 1)", approximations=["rho=1"])
    assert d.title.startswith("Conjugate") and "n_samples" not in {a.name for a in d.arguments}
    assert certify(d).passed


def test_vector_parameter_with_a_loss_that_is_not_conjugate():
    """√θ₁ under a Dirichlet: the emitted module used α₁, α₂, α₃ without defining them (NameError)."""
    d = derived("dirichlet", "sqrt(theta_1)")
    assert certify(d).passed


def test_glm_labels_outside_the_convention_raise():
    """A logistic step given labels outside {0, 1} (here ±1) is refused: it would be a wrong step without a word."""
    step = derived("multivariate-gaussian", "glm:logistic", "isotropic", ["delta", "rho=1"]).compile()
    X, m = np.random.default_rng(0).standard_normal((5, 2)), np.zeros(2)
    step(m, 1.0, X, np.array([1.0, 0.0, 1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="y must hold labels 0 or 1"):
        step(m, 1.0, X, np.array([1.0, -1.0, 1.0, 1.0, -1.0]))
