r"""Natural gradients of expectations no exact rule reaches: score-function Monte Carlo, or quadrature.

When no exact rule reaches a term :math:`f(\theta)` of the loss (:mod:`.expectations`), its natural
gradient is computed in the emitted step through

.. math::

    \nabla_\lambda\mathbb{E}_q[f] = \mathbb{E}_q\big[f(\theta)\,(T(\theta) - \mu)\big], \qquad
    \nabla_\mu\mathbb{E}_q[f] = F(\lambda)^{-1}\nabla_\lambda\mathbb{E}_q[f]

(the chain rule through :math:`\mu = \nabla A(\lambda)`, Khan & Rue 2023, Sec. 1.2 and 4.4), by one of two
estimators, chosen by what the family declares (:func:`estimator_for`):

**Score-function Monte Carlo** (:class:`ScoreFunctionEstimator`), for a family that declares how NumPy draws it
(:attr:`~blrkit.families.ExponentialFamily.draw`): :math:`K` draws :math:`\theta_k \sim q_t` and a leave-one-out
baseline as its control variate,

.. math::

    \nabla_\lambda\mathbb{E}_q[f] \approx \frac1K\sum_{k=1}^K \big(f(\theta_k) - b_k\big)(T(\theta_k) - \mu),
    \qquad b_k = \frac{1}{K-1}\sum_{j\ne k} f(\theta_j)

(:math:`b_k = 0` when :math:`K = 1`).  Since :math:`\mathbb{E}_q[T(\theta) - \mu] = 0` and :math:`b_k` does not
depend on :math:`\theta_k`, the estimate stays unbiased (the leave-one-out baseline of Kool, van Hoof & Welling
2019).  It removes the :math:`\mathbb{E}_q[f]^2` part of the variance and adds :math:`\mathrm{Var}_q[f]/(K-1)`
of its own, so it helps where :math:`f`'s mean is large against its spread.  Measured (variance of the update
with it over without it, K = 8, at the certificate's states, 400 runs) on the six support-matrix requests that
sample: Poisson √(1 + θ) 0.06; Beta e^θ 0.07–0.11; Exponential log(1 + θ) 0.46; Gaussian log(1 + θ²) 0.46–0.54;
Gamma sin θ 1.18 and Exponential θ − y log θ 1.39 (at K = 32: 0.99 and 1.18).

**Gauss–Legendre quadrature** (:class:`QuadratureEstimator`), for a family of one continuous component that
declares no sampler (a user's family, such as the von Mises or the inverse Gaussian): :math:`n` Gauss–Legendre
nodes :math:`t_j` and weights :math:`w_j` mapped onto the support (:data:`SUPPORT_MAPS`: on the circle
:math:`\theta = \pi t`; on (0, 1), (0, ∞) and ℝ through :math:`u = c + s\,t/(1 - t^2)`, with :math:`c`, :math:`s`
the mean and spread of :math:`u` under :math:`q_t` from a first pass with :math:`c = 0`, :math:`s = 1`, and
:math:`\theta = 1/(1 + e^{-u})`, :math:`e^u`, :math:`u`), and the density itself,
:math:`q(\theta) \propto h(\theta)\exp(\lambda^\top T(\theta))`, normalised over the nodes (so :math:`A(\lambda)`
is not needed):

.. math::

    p_j = \frac{w_j\,\theta'(t_j)\,h(\theta_j)\,e^{\lambda^\top T(\theta_j)}}
               {\sum_i w_i\,\theta'(t_i)\,h(\theta_i)\,e^{\lambda^\top T(\theta_i)}},\qquad
    \nabla_\mu\mathbb{E}_q[f] \approx \Big(\sum_j p_j\,D_j D_j^\top\Big)^{-1}\sum_j p_j\,f(\theta_j)\,D_j,\quad
    D_j = T(\theta_j) - \textstyle\sum_i p_i T(\theta_i),

the same identity with :math:`F(\lambda) = \mathrm{Cov}_q[T]` and :math:`\nabla_\lambda\mathbb{E}_q[f] =
\mathrm{Cov}_q[T, f]`, both from the nodes.  Its error, measured against the closed form of a Gamma's
:math:`\nabla_\mu\mathbb{E}[\theta^3]` at α ∈ {0.3, 0.7, 1.5, 2, 5, 30}, β ∈ {0.01, 0.2, 1, 1.5, 3, 10, 100}: with
:data:`QUADRATURE_NODES` = 256 nodes at most 2e-11 relative (128 nodes: 6e-6; 64: 2e-2; without the first pass's
recentring, 128 nodes: 5e-2); against ``scipy.integrate.quad`` for a von Mises, an inverse Gaussian and a Beta
(α = 0.6), below 1e-9 (``tests/derive/test_quadrature.py``).  A node whose θ rounds onto an end of the support
(a spread of u beyond ~1) has weight 0 and adds nothing; the log 0 there is computed under ``np.errstate``, so the
step does not warn of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from . import ir
from .errors import DerivationError

__all__ = ["QUADRATURE_NODES", "SUPPORT_MAPS", "QuadratureEstimator", "ScoreFunctionEstimator", "estimator_for"]

#: Gauss–Legendre nodes of the quadrature estimator (its error: the module's docstring)
QUADRATURE_NODES = 256

_U = sp.Symbol("u", real=True)
#: support kind -> (θ = φ(u), whether u is recentred, the LaTeX of the map): on (0, 1), (0, ∞) and ℝ, u ∈ ℝ is
#: u = c + s·t/(1 − t²), c and s the mean and spread of u under q_t from a first pass with c = 0, s = 1 (the map
#: sends the ends of (−1, 1) to ±∞ so fast that every derivative of the integrand vanishes there); on the circle
#: u = t, θ = πu
SUPPORT_MAPS = {
    "unit-interval": (1 / (1 + sp.exp(-_U)), True, r"\theta_j = 1/(1 + e^{-u_j})"),
    "positive": (sp.exp(_U), True, r"\theta_j = e^{u_j}"),
    "real": (_U, True, r"\theta_j = u_j"),
    "circle": (sp.pi * _U, False, r"\theta_j = \pi t_j"),
}
#: the first pass's nodes span |t/(1 − t²)| ≤ U_SPAN (e^{±30} on (0, ∞)), the second's U_SPAN spreads around c
U_SPAN = 30
_SPAN = round((math.sqrt(1 + 4 * U_SPAN**2) - 1) / (2 * U_SPAN), 12)  # τ with τ/(1 − τ²) = U_SPAN


def _in_code(family, f):
    """``(θ ↦ the code's theta, f, T(θ))`` of ``family``, θ renamed to the step's array ``theta``."""
    (th,) = family.theta
    at = {th: sp.Symbol("theta", real=True)}
    stats = tuple(sp.sympify(t).xreplace(at) for t in family.statistics)
    return at, f.xreplace(at), stats


@dataclass(frozen=True)
class ScoreFunctionEstimator:
    """The score-function estimate from draws of a family that declares its NumPy sampler."""

    family: object

    label = "Monte Carlo"
    anchor = "monte-carlo"
    #: its estimate multiplies by the closed-form F(λ)⁻¹ (printed in the derivation)
    uses_fisher = True
    estimate_latex = (r"F(\lambda_t)^{-1} \frac{1}{K}\sum_{k=1}^{K} \left(f(\theta_k) - b_k\right)"
                      r"\left(T(\theta_k) - \mu_t\right)")
    justification = ("no exact rule reaches this part $f$ of the loss: the emitted step estimates the natural "
                     "gradient of $\\mathbb{E}_{q_t}[f]$ from $K$ draws $\\theta_k \\sim q_t$ ($K$ is its "
                     "number of samples; score function, "
                     "$\\nabla_\\mu = F(\\lambda)^{-1}\\nabla_\\lambda$, with the control variate $b_k$, the mean "
                     "of $f$ over the other $K - 1$ draws, $0$ when $K = 1$)")
    arguments = (("n_samples", "int", "number of Monte-Carlo samples"),
                 ("rng", "rng", "numpy.random.Generator for the Monte-Carlo samples"))

    def nodes(self, f, to_state) -> list:
        """IR nodes setting ``dmu_mc`` (…, K), the estimate of :math:`\\nabla_\\mu\\mathbb{E}_q[f]`.

        ``to_state`` maps λ to the standard parameters (the step's arguments)."""
        family = self.family
        _, f, stats = _in_code(family, f)
        K = len(family.natural)
        mean = [sp.sympify(x).xreplace(to_state) for x in family.mean_map]
        fisher = sp.Matrix(family.fisher).xreplace(to_state)
        used = set().union(*(sp.sympify(a).free_symbols for a in family.draw.args))
        params = tuple(p.name for p in family.standard if set(p.unique_symbols) & used)
        return [
            ir.Comment("score function: ∇_λ E_q[f] = E_q[f(θ)(T(θ) − μ)] from θ_k ~ q_t, then ∇_μ = F(λ)⁻¹ ∇_λ"),
            ir.FamilySample("theta", family.draw.method, tuple(family.draw.args), params),
            ir.ScoreFunction("dmu_mc", "theta", f, stats, tuple(mean),
                             tuple(tuple(fisher[i, j] for j in range(K)) for i in range(K))),
        ]


@dataclass(frozen=True)
class QuadratureEstimator:
    """Gauss–Legendre quadrature over the support of a family of one continuous component with no sampler."""

    family: object
    n: int = QUADRATURE_NODES

    label = "Quadrature"
    anchor = "blr"
    arguments = ()
    #: F(λ) = Cov_q[T] comes from the nodes, not from its closed form
    uses_fisher = False

    @property
    def support(self) -> str:
        return self.family.support[0][0]

    @property
    def estimate_latex(self) -> str:
        return (r"\Big(\sum_{j=1}^{n} p_j D_j D_j^\top\Big)^{-1} \sum_{j=1}^{n} p_j f(\theta_j) D_j")

    @property
    def justification(self) -> str:
        phi, recentred, latex = SUPPORT_MAPS[self.support]
        nodes = (f"$t_j \\in (-\\tau, \\tau)$, $\\tau/(1 - \\tau^2) = {U_SPAN}$, $u_j = c + s\\,t_j/(1 - t_j^2)$ "
                 "with $c$, $s$ the mean and spread of $u$ under $q_t$ from a first pass ($c = 0$, $s = 1$)"
                 if recentred else "$t_j \\in (-1, 1)$")
        return ("no exact rule reaches this part $f$ of the loss, and the family has no sampler: the emitted step "
                f"computes the natural gradient of $\\mathbb{{E}}_{{q_t}}[f]$ by Gauss–Legendre quadrature, "
                f"$n = {self.n}$ nodes {nodes}, ${latex}$, weights "
                "$p_j \\propto w_j \\frac{d\\theta_j}{dt_j} h(\\theta_j) e^{\\lambda_t^\\top T(\\theta_j)}$ "
                "normalised over the nodes, $D_j = T(\\theta_j) - \\sum_i p_i T(\\theta_i)$ "
                "($\\nabla_\\mu = F(\\lambda)^{-1}\\nabla_\\lambda$ with $F = \\mathrm{Cov}_q[T]$ and "
                "$\\nabla_\\lambda \\mathbb{E}_q[f] = \\mathrm{Cov}_q[T, f]$; a quadrature error, not a sampling one)")

    def nodes(self, f, to_state) -> list:
        """IR nodes setting ``dmu_mc`` (…, K), the quadrature value of :math:`\\nabla_\\mu\\mathbb{E}_q[f]`."""
        family = self.family
        at, f, stats = _in_code(family, f)
        (th,) = at.values()
        lam = [sp.sympify(x).xreplace(to_state) for x in family.natural]
        log_kernel = sp.sympify(family.log_base_measure).xreplace(at) + sum(l * t for l, t in zip(lam, stats))
        phi, recentred, _ = SUPPORT_MAPS[self.support]
        params = tuple(p.name for p in family.standard)
        return [
            ir.Comment(f"quadrature: ∇_μ E_q[f] = Cov_q[T]⁻¹ Cov_q[T, f], {self.n} Gauss–Legendre nodes mapped onto "
                       f"the support ({self.support})"),
            ir.FamilyQuadrature("dmu_mc", th.name, _U.name, phi, sp.expand_log(sp.log(sp.diff(phi, _U)), force=True),
                                log_kernel, f, stats, self.n, _SPAN if recentred else None, params),
        ]


def estimator_for(family, f):
    """The estimator of :math:`\\nabla_\\mu\\mathbb{E}_q[f]` for ``family``: score-function Monte Carlo where the
    family declares a sampler, Gauss–Legendre quadrature for one continuous component without one; a
    :class:`DerivationError` otherwise."""
    if len(family.theta) == 1 and family.draw is not None:
        return ScoreFunctionEstimator(family)
    if len(family.theta) == 1 and family.support[0][0] in SUPPORT_MAPS:
        return QuadratureEstimator(family)
    raise DerivationError(
        f"E_q[{f}] has no closed form under the {family.name} family, and it has no sampler (a Draw) to estimate it "
        f"by Monte Carlo, nor one continuous component to integrate by quadrature; write the loss in "
        f"T(θ) = {family.statistics}")
