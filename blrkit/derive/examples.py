r"""Derivations beyond the recipes: what the engine gives for a user's own family and loss.

Each example is a one-line call of :func:`~blrkit.derive.derive` that no recipe makes: they are
printed in the derivation catalogue, rendered by the tests (mathtext, pdflatex) and timed by
``benchmarks/bench_derive.py``.

>>> {"logistic_irls", "gamma_monte_carlo", "improved_variational_newton"} <= set(EXAMPLES)
True
>>> EXAMPLES["logistic_irls"]().title
"Newton's method (IRLS for a GLM)"
"""

from __future__ import annotations

import sympy as sp


def _theta(*names):
    return sp.symbols(" ".join(names), real=True)


def logistic_irls():
    """Logistic regression, isotropic prior, delta method, ρ = 1: Newton's method, i.e. IRLS."""
    from .blr import derive
    from .losses import glm_loss

    return derive("multivariate-gaussian", glm_loss("logistic"), "isotropic", ["delta", "rho=1"],
                  function_name="logistic_irls_step")


def poisson_damped_newton():
    """Poisson regression, isotropic prior, delta method, ρ = 1/2: damped Newton."""
    from .blr import derive
    from .losses import glm_loss

    return derive("multivariate-gaussian", glm_loss("poisson"), "isotropic", ["delta", "rho=1/2"],
                  function_name="poisson_newton_step")


def rosenbrock_newton():
    """Rosenbrock's function in θ₁, θ₂, delta method: damped BLR-Newton with the derived ∇ℓ, ∇²ℓ."""
    from .blr import derive

    t1, t2 = _theta("theta_1", "theta_2")
    return derive("multivariate-gaussian", (1 - t1) ** 2 + 100 * (t2 - t1**2) ** 2, None, ["delta"],
                  function_name="rosenbrock_newton_step")


def double_well_vi():
    """A double well θ⁴ − 2θ² + θ/2 without approximation: exact Gaussian moments (variational Newton)."""
    from .blr import derive

    t = sp.Symbol("theta", real=True)
    return derive("multivariate-gaussian", t**4 - 2 * t**2 + t / 2, None, [], function_name="double_well_step")


def gamma_non_conjugate():
    """ℓ = θ² − 3 log θ + 2θ under a Gamma, ρ = 1/2: the natural gradient through F(λ)⁻¹."""
    from ..families import FAMILIES
    from .blr import derive

    (t,) = FAMILIES["gamma"]().theta
    return derive("gamma", t**2 - 3 * sp.log(t) + 2 * t, None, ["rho=1/2"], function_name="gamma_step")


def inverse_gaussian_base_measure():
    """A user family (inverse Gaussian, from its log-density; base measure θ^{-3/2}), no prior, ρ = 1/2."""
    from ..families import ExponentialFamily
    from .blr import derive

    x = sp.Symbol("x", positive=True)
    e1, e2 = sp.symbols("eta1 eta2", negative=True)
    log_q = (-sp.log(2 * sp.pi * x**3) / 2 + e1 * x + e2 / x + 2 * sp.sqrt(e1 * e2) + sp.log(-2 * e2) / 2)
    fam = ExponentialFamily.from_log_density("inverse Gaussian", (x,), log_q, (e1, e2), support=(("positive", 1),))
    return derive(fam, 2 * x + 3 / x + sp.Rational(3, 2) * sp.log(x), "none", ["rho=1/2"],
                  function_name="inverse_gaussian_step")


def improved_variational_newton():
    """The improved BLR (Lin, Schmidt & Khan 2020) without approximation: Monte-Carlo expectations,
    a precision that stays positive definite for any ρ."""
    from .blr import derive

    return derive("multivariate-gaussian", rule="improved", function_name="improved_step")


def gamma_monte_carlo():
    """ℓ = sin θ + θ² under a Gamma: sin θ has no closed-form expectation, so the emitted step
    estimates its natural gradient by the score function."""
    from ..families import FAMILIES
    from .blr import derive

    (t,) = FAMILIES["gamma"]().theta
    return derive("gamma", sp.sin(t) + t**2, None, ["rho=1/2"], function_name="gamma_mc_step")


#: name -> () -> Derivation
EXAMPLES = {f.__name__: f for f in (logistic_irls, poisson_damped_newton, rosenbrock_newton, double_well_vi,
                                    gamma_non_conjugate, inverse_gaussian_base_measure,
                                    improved_variational_newton, gamma_monte_carlo)}
