r"""Discrete candidates: Bernoulli, Categorical and Poisson.

A Bernoulli q over a binary weight gives the straight-through estimator and
BayesBiNN (Khan & Rue 2023, Sec. 4.5); Categorical and Poisson families are the
conjugate partners of count and label data (Sec. 5.1).  All three are written
minimally: K − 1 logits for K categories.

>>> q = Categorical(3)
>>> q.to_natural(p=[0.5, 0.25, 0.25]).round(6)    # λ_k = log(p_k / p_K)
array([0.693147, 0.      ])
"""

from __future__ import annotations


import numpy as np
import sympy

from blrkit._validation import check_count
from blrkit.families.base import (
    MAX_ELEMENTWISE_SIZE, SIZE_REASON, Draw, ExponentialFamily, Parameter, Trait, cached_family,
    expectation_symbols, natural_symbols,
)

__all__ = ["Bernoulli", "Categorical", "Poisson"]


@cached_family(traits=(Trait.BINARY,))
def Bernoulli() -> ExponentialFamily:
    r"""Bernoulli q(θ) = p^θ (1 − p)^{1−θ} on θ ∈ {0, 1}, standard parameter ``p`` ∈ (0, 1).

    .. math::

        T(\theta) = \theta,\quad \lambda = \log\frac{p}{1-p},\quad
        A(\lambda) = \log(1 + e^{\lambda}),\quad \mu = p = \frac{1}{1 + e^{-\lambda}}.

    (The {−1, +1} variant of BayesBiNN, Khan & Rue 2023, Sec. 4.5, has λ/2 and tanh.)

    >>> Bernoulli().to_expectation([0.0])
    array([0.5])
    """
    th = sympy.Symbol("theta", nonnegative=True, integer=True)
    p = sympy.Symbol("p", positive=True)
    (l,), (m,) = natural_symbols(1), expectation_symbols(1)
    return ExponentialFamily(
        name="Bernoulli", key="bernoulli", theta=(th,), statistics=(th,), log_base_measure=sympy.S.Zero,
        natural=(l,), expectation=(m,), log_partition=sympy.log(1 + sympy.exp(l)),
        standard=(Parameter("p", p, "probability", "p"),),
        standard_to_natural=(sympy.log(p / (1 - p)),),
        natural_to_standard={"p": 1 / (1 + sympy.exp(-l))},
        expectation_to_natural=(sympy.log(m / (1 - m)),),
        support=(("binary", 1),),
        closed_forms={"mean_map": (1 / (1 + sympy.exp(-l)),), "expectation_standard": (p,)},
        example=lambda rng: {"p": rng.uniform(0.05, 0.95)},
        anchor="bayesbinn",
    )


@cached_family
def Categorical(K: int = 3) -> ExponentialFamily:
    r"""Categorical over K classes, θ = the first K − 1 entries of the one-hot code; ``p`` on the simplex.

    .. math::

        T(\theta) = (\theta_1,\dots,\theta_{K-1}),\quad \lambda_k = \log\frac{p_k}{p_K},\quad
        A(\lambda) = \log\Bigl(1 + \sum_{k<K} e^{\lambda_k}\Bigr),\quad \mu_k = p_k.

    Khan & Rue 2023, Sec. 5.1 (conjugate to the Dirichlet).

    >>> Categorical(2).to_standard([0.0])["p"]
    array([0.5, 0.5])
    """
    K = check_count(K, "K", 2, MAX_ELEMENTWISE_SIZE, reason=SIZE_REASON)
    th = tuple(sympy.Symbol(f"theta_{k}", nonnegative=True, integer=True) for k in range(1, K))
    p = sympy.ImmutableMatrix([sympy.Symbol(f"p_{k}", positive=True) for k in range(1, K + 1)])
    lam, mu = natural_symbols(K - 1), expectation_symbols(K - 1)
    z = 1 + sum(sympy.exp(l) for l in lam)
    return ExponentialFamily(
        name=f"Categorical (K={K})", key="categorical", theta=th, statistics=th, log_base_measure=sympy.S.Zero,
        natural=lam, expectation=mu, log_partition=sympy.log(z),
        standard=(Parameter("p", p, "simplex", "p", (K,)),),
        standard_to_natural=tuple(sympy.log(p[k] / p[K - 1]) for k in range(K - 1)),
        natural_to_standard={"p": sympy.ImmutableMatrix([sympy.exp(l) / z for l in lam] + [1 / z])},
        expectation_to_natural=tuple(sympy.log(x / (1 - sum(mu))) for x in mu),
        support=(("one-hot", K - 1),),
        closed_forms={"mean_map": tuple(sympy.exp(l) / z for l in lam), "expectation_standard": tuple(p[: K - 1])},
        example=lambda rng: {"p": rng.dirichlet(np.full(K, 3.0))},
        anchor="conjugate",
    )


@cached_family
def Poisson() -> ExponentialFamily:
    r"""Poisson q(θ) = rate^θ e^{−rate}/θ! on θ ∈ {0, 1, …}, standard parameter ``rate`` > 0.

    .. math::

        T(\theta) = \theta,\quad \log h(\theta) = -\log\theta!,\quad \lambda = \log(\mathrm{rate}),\quad
        A(\lambda) = e^{\lambda},\quad \mu = \mathrm{rate}.

    The base measure is not constant and E_q[log θ!] has no closed form, so
    :attr:`~ExponentialFamily.entropy` is ``None`` and ``entropy_value`` sums
    over the support (Khan & Rue 2023, Sec. 1.3: add log h to ℓ̄ in the BLR).

    >>> q = Poisson()
    >>> q.entropy is None, round(float(q.entropy_value(q.to_natural(rate=1.0))), 6)
    (True, 1.304842)
    """
    # no integer=True: SymPy would rewrite loggamma(θ + 1) as log(gamma(θ + 1)), which overflows
    th = sympy.Symbol("theta", nonnegative=True)
    rate = sympy.Symbol("rate", positive=True)
    (l,), (m,) = natural_symbols(1), expectation_symbols(1)
    return ExponentialFamily(
        name="Poisson", key="poisson", theta=(th,), statistics=(th,), log_base_measure=-sympy.loggamma(th + 1),
        natural=(l,), expectation=(m,), log_partition=sympy.exp(l),
        standard=(Parameter("rate", rate, "positive", r"\mathrm{rate}"),),
        standard_to_natural=(sympy.log(rate),), natural_to_standard={"rate": sympy.exp(l)},
        expectation_to_natural=(sympy.log(m),),
        support=(("count", 1),),
        closed_forms={"mean_map": (sympy.exp(l),), "expectation_standard": (rate,)},
        example=lambda rng: {"rate": rng.uniform(0.5, 10.0)},
        anchor="conjugate", draw=Draw("poisson", (rate,)),
    )
