r"""Positive-valued candidates: Gamma and Exponential.

A Gamma q over a positive rate or precision is the conjugate partner of the
Poisson and Gaussian likelihoods; with ρ = 1 the BLR returns the exact
posterior in one step (Khan & Rue 2023, Sec. 5.1).  The Gamma is written with a
constant base measure, T = (log θ, θ), λ = (α − 1, −β), so that ∇_μ(−H) = λ.

>>> q = Gamma()
>>> q.to_natural(alpha=3.0, beta=2.0)
array([ 2., -2.])
"""

from __future__ import annotations


import sympy

from blrkit.families.base import (
    Draw, ExponentialFamily, Parameter, cached_family, expectation_symbols, natural_symbols,
)

__all__ = ["Exponential", "Gamma"]


@cached_family
def Gamma() -> ExponentialFamily:
    r"""Gamma q(θ) ∝ θ^{α−1} e^{−βθ} with shape ``alpha`` and rate ``beta``.

    .. math::

        T(\theta) = (\log\theta, \theta),\quad \lambda = (\alpha - 1, -\beta),\quad
        A(\lambda) = \log\Gamma(\lambda_1 + 1) - (\lambda_1 + 1)\log(-\lambda_2),\quad
        \mu = (\psi(\alpha) - \log\beta,\ \alpha/\beta).

    μ → λ needs the inverse digamma, so it is solved by Newton's method
    (Khan & Rue 2023, Sec. 5.1).

    >>> q = Gamma()
    >>> round(float(q.to_standard(q.from_expectation(q.to_expectation([2.0, -2.0])))["alpha"]), 10)
    3.0
    """
    th = sympy.Symbol("theta", positive=True)
    a, b = sympy.Symbol("alpha", positive=True), sympy.Symbol("beta", positive=True)
    l1, l2 = lam = natural_symbols(2)
    alpha, beta = l1 + 1, -l2
    return ExponentialFamily(
        name="Gamma", key="gamma", theta=(th,), statistics=(sympy.log(th), th), log_base_measure=sympy.S.Zero,
        natural=lam, expectation=expectation_symbols(2),
        log_partition=sympy.loggamma(alpha) - alpha * sympy.log(beta),
        standard=(Parameter("alpha", a, "positive", r"\alpha"), Parameter("beta", b, "positive", r"\beta")),
        standard_to_natural=(a - 1, -b), natural_to_standard={"alpha": alpha, "beta": beta},
        support=(("positive", 1),),
        closed_forms={
            "mean_map": (sympy.digamma(alpha) - sympy.log(beta), alpha / beta),
            "expectation_standard": (sympy.digamma(a) - sympy.log(b), a / b),
            "entropy": alpha - sympy.log(beta) + sympy.loggamma(alpha) + (1 - alpha) * sympy.digamma(alpha),
            "newton_start": (0.0, -1.0),
        },
        example=lambda rng: {"alpha": rng.uniform(1.0, 6.0), "beta": rng.uniform(0.5, 3.0)},
        anchor="conjugate", draw=Draw("gamma", (a, 1 / b)),
    )


@cached_family
def Exponential() -> ExponentialFamily:
    r"""Exponential q(θ) = rate · e^{−rate·θ} on θ > 0, standard parameter ``rate``.

    .. math::

        T(\theta) = \theta,\quad \lambda = -\mathrm{rate},\quad A(\lambda) = -\log(-\lambda),\quad
        \mu = 1/\mathrm{rate}.

    Khan & Rue 2023, Sec. 5.1.

    >>> Exponential().to_expectation(Exponential().to_natural(rate=4.0))
    array([0.25])
    """
    th = sympy.Symbol("theta", positive=True)
    rate = sympy.Symbol("rate", positive=True)
    (l,), (m,) = natural_symbols(1), expectation_symbols(1)
    return ExponentialFamily(
        name="Exponential", key="exponential", theta=(th,), statistics=(th,), log_base_measure=sympy.S.Zero,
        natural=(l,), expectation=(m,), log_partition=-sympy.log(-l),
        standard=(Parameter("rate", rate, "positive", r"\mathrm{rate}"),),
        standard_to_natural=(-rate,), natural_to_standard={"rate": -l}, expectation_to_natural=(-1 / m,),
        support=(("positive", 1),),
        closed_forms={"mean_map": (-1 / l,), "expectation_standard": (1 / rate,), "entropy": 1 - sympy.log(-l)},
        example=lambda rng: {"rate": rng.uniform(0.3, 4.0)},
        anchor="conjugate", draw=Draw("exponential", (1 / rate,)),
    )
