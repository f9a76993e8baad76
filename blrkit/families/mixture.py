r"""Mixture of Gaussians as a minimal conditional exponential family (Khan & Rue 2023, Sec. 3.2).

A mixture q(θ) = Σ_k π_k N(θ | m_k, S_k⁻¹) is not an exponential family, but
the joint q(θ, z) = π_z N(θ | m_z, S_z⁻¹) over θ and the indicator z is.  With
z one-hot and z_K = 1 − Σ_{k<K} z_k, the statistics are

.. math::

    T(\theta, z) = \bigl([z=k]\bigr)_{k<K},\ \bigl([z=k]\,\theta,\ [z=k]\,\theta^2\bigr)_{k=1..K},

and the joint's natural parameters are η_k (k < K) and the component
parameters λ_k = (S_k m_k, −S_k/2).  Writing A_k(λ_k) for the Gaussian
log-partition, the joint log-partition is

.. math::

    A = \log\Bigl(e^{A_K(\lambda_K)} + \sum_{k<K} e^{\eta_k + A_k(\lambda_k)}\Bigr),

so η_k = v_k − A_k + A_K, where v_k = log(π_k/π_K) are the weight natural
parameters of the BLR's (Mix) update (derivations §1.4; ``extras["weight_natural"]``
gives v_k in terms of λ).  The expectation parameters are
μ = (π_k; π_k m_k, π_k(m_k² + 1/S_k)), as in Sec. 3.2.

>>> q = GaussianMixture(2)
>>> q.to_expectation(q.to_natural(pi=[0.25, 0.75], m=[-1.0, 1.0], S=[1.0, 4.0]))
array([ 0.25  , -0.25  ,  0.5   ,  0.75  ,  0.9375])
"""

from __future__ import annotations


import numpy as np
import sympy

from blrkit._validation import check_count
from blrkit.families.base import (
    SIZE_REASON, ExponentialFamily, Parameter, Trait, cached_family, expectation_symbols, natural_symbols,
)

__all__ = ["GaussianMixture"]

#: the most components (K = 20 builds and evaluates in ~5 s; its work grows with K)
MAX_MIXTURE_SIZE = 20


def _gauss_log_partition(a, b):
    """A for λ = (a, b) = (S m, −S/2): −a²/(4b) − ½ log(−2b) + ½ log 2π."""
    return -a**2 / (4 * b) - sympy.log(-2 * b) / 2 + sympy.log(2 * sympy.pi) / 2


def _sample(std, rng, n):
    k = len(std["pi"])
    z = rng.choice(k, size=n, p=std["pi"] / std["pi"].sum())
    x = std["m"][z] + rng.normal(size=n) / np.sqrt(std["S"][z])
    return np.column_stack([x, np.eye(k)[z][:, : k - 1]])


@cached_family(traits=(Trait.GAUSSIAN, Trait.MIXTURE))
def GaussianMixture(K: int = 2) -> ExponentialFamily:
    r"""Mixture of K univariate Gaussians as the joint q(θ, z): ``pi`` (simplex), ``m`` and ``S`` (``(K,)``).

    θ = (x, z_1, …, z_{K−1}) with z the one-hot indicator (see the module
    docstring; Khan & Rue 2023, Sec. 3.2).  Natural parameters: λ_1..λ_{K−1} are
    η_k, then (S_k m_k, −S_k/2) for k = 1..K.

    >>> q = GaussianMixture(2)
    >>> lam = q.to_natural(pi=[0.25, 0.75], m=[-1.0, 1.0], S=[1.0, 4.0])
    >>> v = q.extras["weight_natural"][0]          # v_1 = log(π_1/π_2)
    >>> round(float(v.subs(dict(zip(q.natural, lam)))), 12) == round(float(np.log(1 / 3)), 12)
    True
    """
    K = check_count(K, "K", 2, MAX_MIXTURE_SIZE, reason=SIZE_REASON)
    x = sympy.Symbol("x", real=True)
    z = tuple(sympy.Symbol(f"z_{k}", nonnegative=True, integer=True) for k in range(1, K))
    zs = z + (1 - sum(z),)
    pi = sympy.ImmutableMatrix([sympy.Symbol(f"pi_{k}", positive=True) for k in range(1, K + 1)])
    m = sympy.ImmutableMatrix([sympy.Symbol(f"m_{k}", real=True) for k in range(1, K + 1)])
    s = sympy.ImmutableMatrix([sympy.Symbol(f"S_{k}", positive=True) for k in range(1, K + 1)])
    lam = natural_symbols(3 * K - 1)
    mu = expectation_symbols(3 * K - 1)
    eta = lam[: K - 1] + (sympy.S.Zero,)
    comp = [(lam[K - 1 + 2 * k], lam[K + 2 * k]) for k in range(K)]
    a_k = [_gauss_log_partition(a, b) for a, b in comp]
    log_z = sympy.log(sum(sympy.exp(e + a) for e, a in zip(eta, a_k)))
    stats = tuple(z) + tuple(t for k in range(K) for t in (zs[k] * x, zs[k] * x**2))
    # standard → natural: η_k = log(π_k/π_K) − A_k + A_K, A_k = S_k m_k²/2 − ½ log S_k (+ ½ log 2π, cancels)
    a_std = [s[k] * m[k] ** 2 / 2 - sympy.log(s[k]) / 2 for k in range(K)]
    s2n = tuple(sympy.log(pi[k] / pi[K - 1]) - a_std[k] + a_std[K - 1] for k in range(K - 1))
    s2n += tuple(t for k in range(K) for t in (s[k] * m[k], -s[k] / 2))
    # expectation → natural: π_k = μ_k, m_k = μ_{k,1}/π_k, 1/S_k = μ_{k,2}/π_k − m_k²
    w = tuple(mu[: K - 1]) + (1 - sum(mu[: K - 1]),)
    mk = [mu[K - 1 + 2 * k] / w[k] for k in range(K)]
    sk = [1 / (mu[K + 2 * k] / w[k] - mk[k] ** 2) for k in range(K)]
    a_mu = [sk[k] * mk[k] ** 2 / 2 - sympy.log(sk[k]) / 2 for k in range(K)]
    e2n = tuple(sympy.log(w[k] / w[K - 1]) - a_mu[k] + a_mu[K - 1] for k in range(K - 1))
    e2n += tuple(t for k in range(K) for t in (sk[k] * mk[k], -sk[k] / 2))
    weights = [sympy.exp(e + a - log_z) for e, a in zip(eta, a_k)]
    exp_std = tuple(pi[: K - 1]) + tuple(t for k in range(K) for t in (pi[k] * m[k], pi[k] * (m[k] ** 2 + 1 / s[k])))
    return ExponentialFamily(
        name=f"mixture of Gaussians (K={K})", key="gaussian-mixture", theta=(x,) + z, statistics=stats,
        log_base_measure=sympy.S.Zero, natural=lam, expectation=mu, log_partition=log_z,
        standard=(Parameter("pi", pi, "simplex", r"\pi", (K,)), Parameter("m", m, "real", "m", (K,)),
                  Parameter("S", s, "positive-vector", "S", (K,))),
        standard_to_natural=s2n,
        natural_to_standard={"pi": sympy.ImmutableMatrix(weights),
                             "m": sympy.ImmutableMatrix([-a / (2 * b) for a, b in comp]),
                             "S": sympy.ImmutableMatrix([-2 * b for _, b in comp])},
        expectation_to_natural=e2n,
        support=(("real", 1), ("one-hot", K - 1)),
        closed_forms={"expectation_standard": exp_std},
        sampler=_sample,
        example=lambda rng: {"pi": rng.dirichlet(np.full(K, 4.0)), "m": np.sort(rng.normal(scale=2.0, size=K)),
                             "S": rng.uniform(0.5, 3.0, size=K)},
        anchor="mixture",
        extras={
            "weight_natural": tuple(eta[k] + a_k[k] - a_k[K - 1] for k in range(K - 1)),
            "component_natural": tuple(comp),
        },
    )
