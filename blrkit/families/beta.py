r"""Candidates on probabilities: Beta and Dirichlet.

A Beta (Dirichlet) q over a probability is conjugate to Bernoulli (Categorical)
data; with T = (log θ_k)_k and λ = α − 1 the base measure is constant, so the
BLR with ρ = 1 adds the counts to λ in one step (Khan & Rue 2023, Sec. 5.1;
the other parameterisation, λ = α with h = 1/∏θ_k, would need log h in ℓ̄).

>>> Dirichlet(3).to_natural(alpha=[1.0, 2.0, 3.0])
array([0., 1., 2.])
"""

from __future__ import annotations


import sympy

from blrkit._validation import check_count
from blrkit.families.base import (
    MAX_ELEMENTWISE_SIZE, SIZE_REASON, Draw, ExponentialFamily, Parameter, cached_family, expectation_symbols,
    natural_symbols,
)

__all__ = ["Beta", "Dirichlet"]


@cached_family
def Beta() -> ExponentialFamily:
    r"""Beta q(θ) ∝ θ^{α−1}(1 − θ)^{β−1} on (0, 1), standard parameters ``alpha``, ``beta``.

    .. math::

        T(\theta) = (\log\theta, \log(1-\theta)),\quad \lambda = (\alpha-1, \beta-1),\quad
        \mu = (\psi(\alpha) - \psi(\alpha+\beta),\ \psi(\beta) - \psi(\alpha+\beta)).

    μ → λ needs the inverse digamma: Newton's method (Khan & Rue 2023, Sec. 5.1).

    >>> Beta().to_standard([1.0, 2.0])
    {'alpha': array(2.), 'beta': array(3.)}
    """
    th = sympy.Symbol("theta", positive=True)
    a, b = sympy.Symbol("alpha", positive=True), sympy.Symbol("beta", positive=True)
    l1, l2 = lam = natural_symbols(2)
    alpha, beta = l1 + 1, l2 + 1
    lg, dg = sympy.loggamma, sympy.digamma
    return ExponentialFamily(
        name="Beta", key="beta", theta=(th,), statistics=(sympy.log(th), sympy.log(1 - th)),
        log_base_measure=sympy.S.Zero, natural=lam, expectation=expectation_symbols(2),
        log_partition=lg(alpha) + lg(beta) - lg(alpha + beta),
        standard=(Parameter("alpha", a, "positive", r"\alpha"), Parameter("beta", b, "positive", r"\beta")),
        standard_to_natural=(a - 1, b - 1), natural_to_standard={"alpha": alpha, "beta": beta},
        support=(("unit-interval", 1),),
        closed_forms={
            "mean_map": (dg(alpha) - dg(alpha + beta), dg(beta) - dg(alpha + beta)),
            "expectation_standard": (dg(a) - dg(a + b), dg(b) - dg(a + b)),
            "entropy": lg(alpha) + lg(beta) - lg(alpha + beta) - (alpha - 1) * dg(alpha)
            - (beta - 1) * dg(beta) + (alpha + beta - 2) * dg(alpha + beta),
        },
        example=lambda rng: {"alpha": rng.uniform(1.0, 6.0), "beta": rng.uniform(1.0, 6.0)},
        anchor="conjugate", draw=Draw("beta", (a, b)),
    )


@cached_family
def Dirichlet(K: int = 3) -> ExponentialFamily:
    r"""Dirichlet q(θ) ∝ ∏_k θ_k^{α_k − 1} on the simplex, ``alpha`` of shape ``(K,)``.

    .. math::

        T(\theta) = (\log\theta_1,\dots,\log\theta_K),\quad \lambda = \alpha - 1,\quad
        A(\lambda) = \sum_k \log\Gamma(\alpha_k) - \log\Gamma\Bigl(\sum_k\alpha_k\Bigr),\quad
        \mu_k = \psi(\alpha_k) - \psi\Bigl(\sum_j \alpha_j\Bigr).

    θ has K components summing to 1 (the density is with respect to Lebesgue
    measure on the first K − 1).  Khan & Rue 2023, Sec. 5.1.

    >>> Dirichlet(2).to_expectation([0.0, 0.0])      # Beta(1, 1)
    array([-1., -1.])
    """
    K = check_count(K, "K", 2, MAX_ELEMENTWISE_SIZE, reason=SIZE_REASON)
    th = tuple(sympy.Symbol(f"theta_{k}", positive=True) for k in range(1, K + 1))
    a = sympy.ImmutableMatrix([sympy.Symbol(f"alpha_{k}", positive=True) for k in range(1, K + 1)])
    lam = natural_symbols(K)
    alpha = [l + 1 for l in lam]
    total = sum(alpha)
    lg, dg = sympy.loggamma, sympy.digamma
    return ExponentialFamily(
        name=f"Dirichlet (K={K})", key="dirichlet", theta=th, statistics=tuple(sympy.log(t) for t in th),
        log_base_measure=sympy.S.Zero, natural=lam, expectation=expectation_symbols(K),
        log_partition=sum(lg(x) for x in alpha) - lg(total),
        standard=(Parameter("alpha", a, "positive-vector", r"\alpha", (K,)),),
        standard_to_natural=tuple(x - 1 for x in a),
        natural_to_standard={"alpha": sympy.ImmutableMatrix(alpha)},
        support=(("simplex", K),),
        closed_forms={
            "mean_map": tuple(dg(x) - dg(total) for x in alpha),
            "expectation_standard": tuple(dg(x) - dg(sum(a)) for x in a),
            "entropy": sum(lg(x) for x in alpha) - lg(total) + (total - K) * dg(total)
            - sum((x - 1) * dg(x) for x in alpha),
        },
        sampler=lambda std, rng, n: rng.dirichlet(std["alpha"], size=n),
        example=lambda rng: {"alpha": rng.uniform(1.0, 5.0, size=K)},
        anchor="conjugate",
    )
