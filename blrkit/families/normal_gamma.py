r"""The Normal-Gamma: a joint candidate for an unknown mean and an unknown precision.

For Gaussian data with unknown mean x and precision τ the conjugate q(x, τ) =
N(x | m, (κτ)⁻¹) Gamma(τ | α, β) lets the BLR with ρ = 1 give the exact
posterior in one step (Khan & Rue 2023, Sec. 5.1).  With θ = (x, τ),

.. math::

    T(\theta) = (\tau x,\ \tau x^2,\ \tau,\ \log\tau),\qquad
    \lambda = (\kappa m,\ -\kappa/2,\ -\beta - \kappa m^2/2,\ \alpha - \tfrac12),

    A(\lambda) = \tfrac12\log 2\pi - \tfrac12\log\kappa - \alpha\log\beta + \log\Gamma(\alpha),\qquad
    \mu = \Bigl(\frac{\alpha m}{\beta},\ \frac{\alpha m^2}{\beta} + \frac1\kappa,\ \frac\alpha\beta,\
          \psi(\alpha) - \log\beta\Bigr),

with constant base measure (the 1/√(2π) sits in A).

>>> NormalGamma().to_natural(m=1.0, kappa=2.0, alpha=3.0, beta=4.0)
array([ 2. , -1. , -5. ,  2.5])
"""

from __future__ import annotations


import numpy as np
import sympy

from blrkit.families.base import (
    ExponentialFamily, Parameter, cached_family, expectation_symbols, natural_symbols,
)

__all__ = ["NormalGamma"]


def _sample(std, rng, n):
    tau = rng.gamma(std["alpha"], 1.0 / std["beta"], size=n)
    x = std["m"] + rng.normal(size=n) / np.sqrt(std["kappa"] * tau)
    return np.stack([x, tau], axis=1)


@cached_family
def NormalGamma() -> ExponentialFamily:
    r"""Normal-Gamma q(x, τ) = N(x | m, (κτ)⁻¹) Gamma(τ | α, β): ``m``, ``kappa``, ``alpha``, ``beta``.

    See the module docstring for T, λ, A and μ (Khan & Rue 2023, Sec. 5.1).
    μ → λ needs the inverse digamma: Newton's method.

    >>> q = NormalGamma()
    >>> q.to_expectation(q.to_natural(m=0.0, kappa=1.0, alpha=2.0, beta=2.0))[:3]
    array([0., 1., 1.])
    """
    x, tau = sympy.Symbol("x", real=True), sympy.Symbol("tau", positive=True)
    m = sympy.Symbol("m", real=True)
    kappa, alpha, beta = (sympy.Symbol(n, positive=True) for n in ("kappa", "alpha", "beta"))
    l1, l2, l3, l4 = lam = natural_symbols(4)
    k_, m_ = -2 * l2, -l1 / (2 * l2)
    a_, b_ = l4 + sympy.Rational(1, 2), -l3 + l1**2 / (4 * l2)
    dg = sympy.digamma
    return ExponentialFamily(
        name="Normal-Gamma", key="normal-gamma", theta=(x, tau),
        statistics=(tau * x, tau * x**2, tau, sympy.log(tau)), log_base_measure=sympy.S.Zero,
        natural=lam, expectation=expectation_symbols(4),
        log_partition=sympy.log(2 * sympy.pi) / 2 - sympy.log(k_) / 2 - a_ * sympy.log(b_) + sympy.loggamma(a_),
        standard=(Parameter("m", m, "real", "m"), Parameter("kappa", kappa, "positive", r"\kappa"),
                  Parameter("alpha", alpha, "positive", r"\alpha"), Parameter("beta", beta, "positive", r"\beta")),
        standard_to_natural=(kappa * m, -kappa / 2, -beta - kappa * m**2 / 2, alpha - sympy.Rational(1, 2)),
        natural_to_standard={"m": m_, "kappa": k_, "alpha": a_, "beta": b_},
        support=(("real", 1), ("positive", 1)),
        closed_forms={
            "mean_map": (a_ * m_ / b_, a_ * m_**2 / b_ + 1 / k_, a_ / b_, dg(a_) - sympy.log(b_)),
            "expectation_standard": (alpha * m / beta, alpha * m**2 / beta + 1 / kappa, alpha / beta,
                                     dg(alpha) - sympy.log(beta)),
            "newton_start": (0.0, -0.5, -1.0, 0.5),
        },
        sampler=_sample,
        example=lambda rng: {"m": rng.normal(), "kappa": rng.uniform(0.5, 3.0), "alpha": rng.uniform(1.0, 5.0),
                             "beta": rng.uniform(0.5, 3.0)},
        anchor="conjugate",
    )
