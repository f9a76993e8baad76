r"""Gaussian candidates q(θ): the family behind gradient descent, Newton, RMSprop, Adam, VOGN.

A Gaussian posterior approximation N(m, S⁻¹), with S the precision, is the
workhorse of the Bayesian learning rule: with the delta method its BLR update is
Newton's method, with a fixed covariance it is gradient descent, with a diagonal
precision it is RMSprop/Adam (Khan & Rue 2023, Sec. 1.3 and 4.2).  Its
statistics are T(θ) = (θ, θθᵀ), natural parameters λ = (S m, −½S) and
expectation parameters μ = (m, Σ + m mᵀ) with Σ = S⁻¹.

Flattening (multivariate case): λ holds the D entries of S m, then the upper
triangle (row by row, i ≤ j) of −½S with the off-diagonal entries doubled, so
that λᵀT(θ) = (Sm)ᵀθ − ½θᵀSθ with T = (θ_i; θ_iθ_j, i ≤ j).  Then μ holds m and
the upper triangle of Σ + m mᵀ (no doubling).  This is minimal.

>>> q = MultivariateGaussian(2)
>>> q.statistics
(theta_1, theta_2, theta_1**2, theta_1*theta_2, theta_2**2)
>>> q.to_natural(m=[1.0, 0.0], S=[[2.0, 0.5], [0.5, 1.0]])   # (S m, −S₁₁/2, −S₁₂, −S₂₂/2)
array([ 2. ,  0.5, -1. , -0.5, -0.5])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy

from blrkit._validation import check_count, check_scalar
from blrkit.families.base import (
    MAX_ELEMENTWISE_SIZE, SIZE_REASON, Draw, ExponentialFamily, Parameter, Trait, cached_family,
    expectation_symbols, natural_symbols,
)

__all__ = [
    "DiagonalGaussian",
    "FixedCovarianceGaussian",
    "GaussianMatrixForm",
    "MultivariateGaussian",
    "UnivariateGaussian",
]

_LOG_2PI = sympy.log(2 * sympy.pi)
#: the largest D of the explicit full-covariance Gaussian (its inverse and determinant are built entry by entry)
MAX_EXPLICIT_D = 3


def _thetas(d: int) -> tuple[sympy.Symbol, ...]:
    return (sympy.Symbol("theta", real=True),) if d == 1 else tuple(
        sympy.Symbol(f"theta_{i}", real=True) for i in range(1, d + 1))


def _vector(name: str, d: int, **assumptions) -> sympy.ImmutableMatrix:
    return sympy.ImmutableMatrix([sympy.Symbol(f"{name}_{i}", **assumptions) for i in range(1, d + 1)])


def _normal_example(rng: np.random.Generator, d: int):
    """A random mean and a well-conditioned random precision (eigenvalues in about [0.5, 3])."""
    m = rng.normal(size=d)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    s = (q * rng.uniform(0.5, 3.0, size=d)) @ q.T
    return m, (s + s.T) / 2


@cached_family(traits=(Trait.GAUSSIAN,))
def UnivariateGaussian() -> ExponentialFamily:
    r"""The univariate Gaussian q(θ) = N(θ | m, S⁻¹), standard parameters mean ``m`` and precision ``S``.

    .. math::

        T(\theta) = (\theta, \theta^2),\quad \lambda = (S m, -S/2),\quad
        \mu = (m, S^{-1} + m^2),\quad
        A(\lambda) = -\frac{\lambda_1^2}{4\lambda_2} - \tfrac12\log(-2\lambda_2) + \tfrac12\log 2\pi.

    Khan & Rue 2023, Sec. 1.3 (the Gaussian BLR is Newton's method).

    >>> q = UnivariateGaussian()
    >>> q.to_expectation(q.to_natural(m=1.0, S=4.0))
    array([1.  , 1.25])
    """
    th = sympy.Symbol("theta", real=True)
    m, s = sympy.Symbol("m", real=True), sympy.Symbol("S", positive=True)
    l1, l2 = lam = natural_symbols(2)
    m1, m2 = mu = expectation_symbols(2)
    return ExponentialFamily(
        name="Gaussian", key="gaussian", theta=(th,), statistics=(th, th**2), log_base_measure=sympy.S.Zero,
        natural=lam, expectation=mu,
        log_partition=-l1**2 / (4 * l2) - sympy.log(-2 * l2) / 2 + _LOG_2PI / 2,
        standard=(Parameter("m", m, "real", "m"), Parameter("S", s, "positive", "S")),
        standard_to_natural=(s * m, -s / 2),
        natural_to_standard={"m": -l1 / (2 * l2), "S": -2 * l2},
        expectation_to_natural=(m1 / (m2 - m1**2), -1 / (2 * (m2 - m1**2))),
        support=(("real", 1),),
        closed_forms={
            "mean_map": (-l1 / (2 * l2), l1**2 / (4 * l2**2) - 1 / (2 * l2)),
            "expectation_standard": (m, 1 / s + m**2),
            "entropy": (1 + _LOG_2PI) / 2 - sympy.log(-2 * l2) / 2,
        },
        example=lambda rng: {"m": rng.normal(), "S": rng.uniform(0.5, 3.0)},
        anchor="newton", draw=Draw("normal", (m, 1 / sympy.sqrt(s))),
    )


@cached_family(traits=(Trait.GAUSSIAN, Trait.FIXED_COVARIANCE))
def FixedCovarianceGaussian(D: int = 1, sigma2=1) -> ExponentialFamily:
    r"""q(θ) = N(θ | m, σ²I) with σ² fixed: only the mean ``m`` (shape ``(D,)``) is free.

    .. math::

        T(\theta) = \theta,\quad \log h(\theta) = -\frac{\theta^\top\theta}{2\sigma^2}
        - \frac D2\log 2\pi\sigma^2,\quad \lambda = m/\sigma^2,\quad \mu = m,\quad
        A(\lambda) = \tfrac{\sigma^2}{2}\lambda^\top\lambda.

    The entropy does not depend on m, so the BLR is gradient descent
    (Khan & Rue 2023, Sec. 1.3).

    >>> q = FixedCovarianceGaussian(2, sigma2=2)
    >>> q.to_natural(m=[1.0, -2.0])
    array([ 0.5, -1. ])
    """
    s2 = sympy.nsimplify(sigma2) if isinstance(sigma2, sympy.Basic) else sympy.nsimplify(
        check_scalar(sigma2, "sigma2", low=0.0))
    if not s2.is_positive:
        raise ValueError(f"sigma2 must be > 0, got {sigma2}")
    D = check_count(D, "D", 1, MAX_ELEMENTWISE_SIZE, reason=SIZE_REASON)
    th = _thetas(D)
    m = _vector("m", D, real=True)
    lam, mu = natural_symbols(D), expectation_symbols(D)
    ll = sum(l**2 for l in lam)
    const = -sympy.Rational(D, 2) * sympy.log(2 * sympy.pi * s2)
    return ExponentialFamily(
        name=f"Gaussian with fixed covariance (D={D}, sigma2={s2})", key="gaussian-fixed-covariance",
        theta=th, statistics=th, log_base_measure=-sum(t**2 for t in th) / (2 * s2) + const,
        natural=lam, expectation=mu, log_partition=s2 * ll / 2,
        standard=(Parameter("m", m, "real", "m", (D,)),),
        standard_to_natural=tuple(mi / s2 for mi in m),
        natural_to_standard={"m": sympy.ImmutableMatrix([s2 * l for l in lam])},
        expectation_to_natural=tuple(x / s2 for x in mu),
        support=(("real", D),),
        closed_forms={
            "mean_map": tuple(s2 * l for l in lam),
            "expectation_standard": tuple(m),
            # E[θᵀθ] = Dσ² + mᵀm with m = σ²λ
            "expected_log_base_measure": -(D * s2 + s2**2 * ll) / (2 * s2) + const,
            "entropy": sympy.Rational(D, 2) * (1 + sympy.log(2 * sympy.pi * s2)),
        },
        sampler=lambda std, rng, n: std["m"] + np.sqrt(float(s2)) * rng.normal(size=(n, D)),
        example=lambda rng: {"m": rng.normal(size=D)},
        anchor="fixed-covariance",
    )


@cached_family(traits=(Trait.GAUSSIAN, Trait.DIAGONAL_PRECISION))
def DiagonalGaussian(D: int = 2) -> ExponentialFamily:
    r"""Mean-field Gaussian q(θ) = N(θ | m, diag(s)⁻¹): mean ``m`` and precisions ``s``, both ``(D,)``.

    .. math::

        T(\theta) = (\theta_1,\dots,\theta_D,\ \theta_1^2,\dots,\theta_D^2),\quad
        \lambda = (s\odot m,\ -s/2),\quad \mu = (m,\ 1/s + m^2).

    Khan & Rue 2023, Sec. 4.2 (RMSprop and Adam).

    >>> DiagonalGaussian(2).to_natural(m=[1.0, 2.0], s=[2.0, 4.0])
    array([ 2.,  8., -1., -2.])
    """
    D = check_count(D, "D", 1, MAX_ELEMENTWISE_SIZE, reason=SIZE_REASON)
    th = _thetas(D)
    m, s = _vector("m", D, real=True), _vector("s", D, positive=True)
    lam, mu = natural_symbols(2 * D), expectation_symbols(2 * D)
    a, b = lam[:D], lam[D:]
    return ExponentialFamily(
        name=f"diagonal Gaussian (D={D})", key="diagonal-gaussian", theta=th,
        statistics=th + tuple(t**2 for t in th), log_base_measure=sympy.S.Zero, natural=lam, expectation=mu,
        log_partition=sum(-ai**2 / (4 * bi) - sympy.log(-2 * bi) / 2 + _LOG_2PI / 2 for ai, bi in zip(a, b)),
        standard=(Parameter("m", m, "real", "m", (D,)), Parameter("s", s, "positive-vector", "s", (D,))),
        standard_to_natural=tuple(si * mi for si, mi in zip(s, m)) + tuple(-si / 2 for si in s),
        natural_to_standard={"m": sympy.ImmutableMatrix([-ai / (2 * bi) for ai, bi in zip(a, b)]),
                             "s": sympy.ImmutableMatrix([-2 * bi for bi in b])},
        expectation_to_natural=tuple(x / (y - x**2) for x, y in zip(mu[:D], mu[D:]))
        + tuple(-1 / (2 * (y - x**2)) for x, y in zip(mu[:D], mu[D:])),
        support=(("real", D),),
        closed_forms={
            "mean_map": tuple(-ai / (2 * bi) for ai, bi in zip(a, b))
            + tuple(ai**2 / (4 * bi**2) - 1 / (2 * bi) for ai, bi in zip(a, b)),
            "expectation_standard": tuple(m) + tuple(1 / si + mi**2 for mi, si in zip(m, s)),
            "entropy": sum((1 + _LOG_2PI) / 2 - sympy.log(-2 * bi) / 2 for bi in b),
        },
        sampler=lambda std, rng, n: std["m"] + rng.normal(size=(n, D)) / np.sqrt(std["s"]),
        example=lambda rng: {"m": rng.normal(size=D), "s": rng.uniform(0.5, 3.0, size=D)},
        anchor="rmsprop",
    )


def _upper(d: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(d) for j in range(i, d)]


def _inverse(p: sympy.MatrixBase) -> sympy.ImmutableMatrix:
    """P⁻¹ = adj(P)/det(P), entries cancelled (fast and exact for D ≤ 3)."""
    det = p.det(method="berkowitz")
    return sympy.ImmutableMatrix(p.adjugate().applyfunc(lambda e: sympy.cancel(e / det)))


@cached_family(traits=(Trait.GAUSSIAN, Trait.FULL_PRECISION))
def MultivariateGaussian(D: int | None = 2):
    r"""Full-covariance Gaussian q(θ) = N(θ | m, S⁻¹): mean ``m`` ``(D,)`` and precision ``S`` ``(D, D)``, SPD.

    .. math::

        T(\theta) = (\theta,\ \theta\theta^\top),\quad \lambda = (S m,\ -\tfrac12 S),\quad
        \mu = (m,\ \Sigma + m m^\top),\quad
        A(\lambda) = \tfrac12 m^\top S m - \tfrac12\log\det S + \tfrac D2\log 2\pi,

    flattened minimally (upper triangles; see the module docstring).  Explicit
    element symbols for a given ``D`` (use D ≤ 3: SymPy verifies identities entry
    by entry); ``D=None`` returns the general-D :class:`GaussianMatrixForm`, for
    display only.  Khan & Rue 2023, Sec. 1.3 (Newton) and 1.4 (Bonnet–Price).

    >>> print(MultivariateGaussian(None).latex().splitlines()[3])
    \mu &= \left(m,\; \Sigma + m m^\top\right), \quad \Sigma = S^{-1} \\
    """
    if D is None:
        return GaussianMatrixForm()
    D = check_count(D, "D", 1, MAX_EXPLICIT_D, reason=f"{SIZE_REASON}; D = 4 takes 30 s, D = 5 minutes: "
                    "MultivariateGaussian(None) is the general-D form")
    th = _thetas(D)
    m = _vector("m", D, real=True)
    s = sympy.ImmutableMatrix(D, D, lambda i, j: sympy.Symbol(
        f"S_{min(i, j) + 1}{max(i, j) + 1}", **({"positive": True} if i == j else {"real": True})))
    up = _upper(D)
    k = D + len(up)
    lam, mu = natural_symbols(k), expectation_symbols(k)
    l1 = sympy.ImmutableMatrix(lam[:D])
    # precision from λ: S_ii = −2λ_(ii), S_ij = −λ_(ij) (the off-diagonals were doubled)
    pos = {ij: lam[D + n] for n, ij in enumerate(up)}
    prec = sympy.ImmutableMatrix(D, D, lambda i, j: -2 * pos[(i, i)] if i == j else -pos[(min(i, j), max(i, j))])
    cov = _inverse(prec)
    mean = sympy.ImmutableMatrix(cov * l1).applyfunc(sympy.cancel)
    log_det = sympy.log(prec.det(method="berkowitz"))
    a = sympy.expand((l1.T * cov * l1)[0, 0]) / 2 - log_det / 2 + D * _LOG_2PI / 2
    # closed forms: μ = (m, Σ + m mᵀ) in λ and in the standard parameters
    mu_lam = tuple(mean) + tuple(sympy.cancel(cov[i, j] + mean[i] * mean[j]) for i, j in up)
    sig_std = _inverse(s)
    mu_std = tuple(m) + tuple(sig_std[i, j] + m[i] * m[j] for i, j in up)
    # μ → λ: Σ = M₂ − μ₁μ₁ᵀ, S = Σ⁻¹, λ = (S μ₁, upper(−S/2) doubled off the diagonal)
    mpos = {ij: mu[D + n] for n, ij in enumerate(up)}
    mu1 = sympy.ImmutableMatrix(mu[:D])
    cov_mu = sympy.ImmutableMatrix(D, D, lambda i, j: mpos[(min(i, j), max(i, j))] - mu1[i] * mu1[j])
    prec_mu = _inverse(cov_mu)
    sm = sympy.ImmutableMatrix(prec_mu * mu1).applyfunc(sympy.cancel)
    e2n = tuple(sm) + tuple(-prec_mu[i, j] / 2 if i == j else -prec_mu[i, j] for i, j in up)
    s_m = s * m
    # Fisher = Cov[T]: Cov(θ_i, θ_j) = Σ_ij, Cov(θ_i, θ_jθ_k) = Σ_ij m_k + Σ_ik m_j,
    # Cov(θ_iθ_j, θ_kθ_l) = Σ_ikΣ_jl + Σ_ilΣ_jk + Σ_ik m_j m_l + Σ_il m_j m_k + Σ_jk m_i m_l + Σ_jl m_i m_k
    c, mm = cov, mean
    idx = [(i,) for i in range(D)] + up

    def cov_t(a, b):
        if len(a) == 1 and len(b) == 1:
            return c[a[0], b[0]]
        if len(a) == 1 or len(b) == 1:
            (i,), (j, k) = (a, b) if len(a) == 1 else (b, a)
            return c[i, j] * mm[k] + c[i, k] * mm[j]
        (i, j), (k, l) = a, b
        return (c[i, k] * c[j, l] + c[i, l] * c[j, k] + c[i, k] * mm[j] * mm[l] + c[i, l] * mm[j] * mm[k]
                + c[j, k] * mm[i] * mm[l] + c[j, l] * mm[i] * mm[k])

    fisher = sympy.ImmutableMatrix(k, k, lambda r, t: cov_t(idx[r], idx[t]))
    return ExponentialFamily(
        name=f"multivariate Gaussian (D={D})", key="multivariate-gaussian", theta=th,
        statistics=th + tuple(th[i] * th[j] for i, j in up), log_base_measure=sympy.S.Zero,
        natural=lam, expectation=mu, log_partition=a,
        standard=(Parameter("m", m, "real", "m", (D,)), Parameter("S", s, "spd", "S", (D, D))),
        standard_to_natural=tuple(s_m) + tuple(-s[i, j] / 2 if i == j else -s[i, j] for i, j in up),
        natural_to_standard={"m": mean, "S": prec},
        expectation_to_natural=e2n,
        support=(("real", D),),
        closed_forms={
            "mean_map": mu_lam,
            "fisher": fisher,
            "expectation_standard": mu_std,
            "entropy": D * (1 + _LOG_2PI) / 2 - log_det / 2,
        },
        sampler=lambda std, rng, n: rng.multivariate_normal(std["m"], np.linalg.inv(std["S"]), size=n),
        example=lambda rng: dict(zip(("m", "S"), _normal_example(rng, D))),
        anchor="newton",
    )


@dataclass(frozen=True)
class GaussianMatrixForm:
    r"""The D-dimensional Gaussian in matrix notation, for display (LaTeX) only.

    .. math::

        \lambda = (S m, -\tfrac12 S),\quad \mu = (m, \Sigma + m m^\top),\quad
        A = \tfrac12 m^\top S m - \tfrac12\log\det S + \tfrac D2 \log 2\pi.
    """

    name: str = "multivariate Gaussian (general D)"

    @property
    def symbols(self) -> dict:
        """The MatrixSymbols m (D × 1), S (D × D) and θ (D × 1)."""
        d = sympy.Symbol("D", integer=True, positive=True)
        return {"D": d, "m": sympy.MatrixSymbol("m", d, 1), "S": sympy.MatrixSymbol("S", d, d),
                "theta": sympy.MatrixSymbol("theta", d, 1)}

    def latex(self) -> str:
        """The definition as an ``align`` block (T, λ, A, μ)."""
        x = self.symbols
        m, s, th, d = x["m"], x["S"], x["theta"], x["D"]
        lx = sympy.latex
        a = (m.T * s * m / 2)
        return "\n".join([
            r"\begin{align}",
            rf"T(\theta) &= \left({lx(th)},\; {lx(th * th.T)}\right) \\",
            rf"\lambda &= \left({lx(s * m)},\; -\tfrac12 {lx(s)}\right) \\",
            r"\mu &= \left(m,\; \Sigma + m m^\top\right), \quad \Sigma = S^{-1} \\",
            rf"A(\lambda) &= {lx(a)} - \tfrac12 \log\det {lx(s)} + \frac{{{lx(d)}}}{{2}} \log 2\pi",
            r"\end{align}",
        ])

    def _repr_latex_(self) -> str:
        return "$$" + self.latex().replace("align}", "aligned}") + "$$"
