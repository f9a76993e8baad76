r"""Approximations of the natural gradient, as composable objects (Khan & Rue 2023, Table 1).

Each approximation is a small immutable value: a name, a paper anchor, a one-line LaTeX
statement of the rewrite, and the rewrite itself (:meth:`Approximation.substitutions`),
which a derivation applies to its current update, in the order the user gave, like
``optax.chain``.  An expectation that no approximation removes stays an explicit
:math:`\mathbb{E}_q[\cdot]`; the emitted code estimates it by Monte Carlo.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..paper import cite


@dataclass(frozen=True)
class Approximation:
    """Base class: ``name``, ``key`` (CLI name), ``anchor`` and a LaTeX ``statement``."""

    name = "approximation"
    key = "approximation"
    anchor = "blr"
    statement = ""
    #: family kinds the approximation makes sense for
    families = ()
    #: an identity rather than an approximation (printed with "=", not "≈")
    exact = False

    @property
    def label(self) -> str:
        """The name as a step label in a derivation."""
        return self.name[0].upper() + self.name[1:]

    @property
    def citation(self) -> str:
        return cite(self.anchor)

    def substitutions(self, terms: dict[str, sp.Basic]) -> dict:
        """The rewrite: a SymPy substitution over the derivation's named ``terms``."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class DeltaMethod(Approximation):
    r"""Delta method: :math:`\mathbb{E}_q[f(\theta)] \approx f(m)` (Khan & Rue 2023, Sec. 1.3).

    Applied to the expected gradient and Hessian of the loss, it turns the BLR into
    gradient descent (fixed covariance) or Newton's method (full covariance).

    >>> DeltaMethod().name
    'delta method'
    """

    name = "delta method"
    key = "delta"
    anchor = "delta-method"
    statement = r"\mathbb{E}_{q}[f(\theta)] \approx f(m)"
    families = ("gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian", "gaussian-mixture")

    def substitutions(self, terms):
        pairs = (("E_g", "g"), ("E_H", "H"), ("E_h", "h"), ("E_g_batch", "g_batch"),
                 ("E_h_gn", "h_gn"), ("E_h_gn_batch", "h_gn_batch"), ("E_g_k", "g_k"), ("E_H_k", "H_k"), ("E_loss", "loss"), ("E_loss_K", "loss_K"))
        return {terms[e]: terms[p] for e, p in pairs if e in terms and p in terms}


@dataclass(frozen=True)
class FixedCovariance(Approximation):
    r"""Fixed covariance: :math:`q = \mathcal{N}(m, I)`, only the mean is learned (Sec. 1.3).

    A rewrite of the family, not of an expectation: the entropy of :math:`q` is then
    constant, so the BLR reads :math:`\lambda \leftarrow \lambda - \rho\nabla_\mu\mathbb{E}_q[\bar\ell]`.
    It makes sense for Gaussian candidates only.
    """

    name = "fixed covariance"
    key = "fixed-covariance"
    anchor = "fixed-covariance"
    statement = r"q = \mathcal{N}(m, I)"
    families = ("gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian",
                "gaussian", "gaussian-mixture")

    def substitutions(self, terms):
        return {}


@dataclass(frozen=True)
class StepSize(Approximation):
    r"""A numeric learning rate :math:`\rho \in (0, 1]` in place of the symbol (Khan & Rue 2023, Sec. 1.2).

    Written ``"rho=0.5"`` or ``"rho=1/4"``; the value is kept as an exact rational so that the
    derivation stays exact and prints it as a number.

    >>> StepSize("1/4").key, StepSize(0.5).statement
    ('rho=1/4', '\\rho = 1/2')
    """

    value: sp.Rational = sp.Integer(1)

    def __post_init__(self):
        try:
            v = sp.Rational(str(self.value).strip())
        except ZeroDivisionError:
            raise ValueError(f"rho must be a number in (0, 1], got {self.value!r} (a division by zero)") from None
        except (TypeError, ValueError, SyntaxError):
            raise ValueError(f"rho must be a number in (0, 1] such as 0.5 or 1/4, got {self.value!r}") from None
        if not 0 < v <= 1:
            raise ValueError(f"rho must be in (0, 1], got {self.value!r}")
        object.__setattr__(self, "value", v)

    anchor = "blr"

    @property
    def name(self) -> str:
        return f"rho = {self.value}"

    @property
    def label(self) -> str:
        return f"ρ = {self.value}"

    @property
    def key(self) -> str:
        return f"rho={self.value}"

    @property
    def statement(self) -> str:
        return rf"\rho = {self.value}"

    def substitutions(self, terms):
        return {terms["rho"]: self.value}


@dataclass(frozen=True)
class UnitStep(StepSize):
    r"""Learning rate :math:`\rho = 1` (Khan & Rue 2023, Sec. 5.1).

    For conjugate models :math:`\nabla_\mu\mathbb{E}_q[\bar\ell]` does not depend on
    :math:`\mu`, and one step reaches the exact posterior from any start.
    """

    value: sp.Rational = sp.Integer(1)
    anchor = "unit-step"


@dataclass(frozen=True)
class StochasticGradient(Approximation):
    r"""Minibatch gradient: :math:`\sum_{i=1}^N \nabla\ell_i \approx \frac{N}{M}\sum_{i\in\mathcal{B}}\nabla\ell_i`.

    An unbiased estimate from a minibatch :math:`\mathcal{B}` of :math:`M` of the
    :math:`N` terms (Khan & Rue 2023, Sec. 4.1).  A sum of squared per-example gradients
    left by :class:`GaussNewton` is estimated the same way,
    :math:`\sum_{i=1}^N (\nabla\ell_i)^2 \approx \frac{N}{M}\sum_{i\in\mathcal{B}}(\nabla\ell_i)^2`.
    """

    name = "stochastic gradient"
    key = "stochastic"
    anchor = "stochastic-gradient"
    statement = r"\nabla\ell \approx \tfrac{N}{M}\hat{g}_{\mathcal{B}}"
    families = ("gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian", "gaussian", "beta",
                "gamma", "dirichlet", "normal-gamma", "bernoulli", "gaussian-mixture")

    def substitutions(self, terms):
        scale = terms["n_data"] / terms["n_batch"]
        out = {}
        if "g" in terms and "g_batch" in terms:
            out[terms["g"]] = scale * terms["g_batch"]
        if "E_g" in terms and "E_g_batch" in terms:
            out[terms["E_g"]] = scale * terms["E_g_batch"]
        for full in ("h_gn", "E_h_gn", "E_g_dev"):
            if full in terms and full + "_batch" in terms:
                out[terms[full]] = scale * terms[full + "_batch"]
        return out


@dataclass(frozen=True)
class GaussNewton(Approximation):
    r"""Gauss–Newton Hessian: :math:`\mathrm{diag}\,\nabla^2\ell \approx \sum_{i=1}^N (\nabla\ell_i)^2`.

    For a loss that is a sum :math:`\ell = \sum_{i=1}^N \ell_i`, the diagonal of the Hessian
    is replaced by the sum of the squared per-example gradients (elementwise squares): the
    diagonal "empirical Fisher", which Khan et al. (2018) call Gauss–Newton.  It needs no
    second derivatives and is non-negative, so the BLR's precision stays positive for every
    :math:`\rho \in (0, 1)`.  Applied after the delta method it is evaluated at the mean
    :math:`m_t` (online Gauss–Newton, OGN); without it, at samples :math:`\theta \sim q_t`
    (variational OGN).  Follow it with :class:`StochasticGradient` to sum over a minibatch
    (Khan & Rue 2023, Sec. 4.4).

    >>> GaussNewton().key, GaussNewton().families
    ('gauss-newton', ('diagonal-gaussian',))
    """

    name = "Gauss-Newton Hessian"
    key = "gauss-newton"
    anchor = "ogn"
    statement = r"\mathrm{diag}\,\nabla^2\ell \approx \sum_{i=1}^{N} (\nabla\ell_i)^2"
    families = ("diagonal-gaussian",)

    def substitutions(self, terms):
        pairs = (("h", "h_gn"), ("E_h", "E_h_gn"))
        return {terms[a]: terms[b] for a, b in pairs if a in terms and b in terms}


@dataclass(frozen=True)
class SquaredGradient(Approximation):
    r"""Hessian by the squared minibatch gradient: :math:`\mathrm{diag}\,\nabla^2\ell \approx N\,\bar g\odot\bar g`.

    :math:`\bar g = \frac1M\sum_{i\in\mathcal{B}}\nabla\ell_i` is the mean minibatch gradient (what
    ``loss.mean().backward()`` gives), so the minibatch gradient :math:`\hat g_{\mathcal{B}} = M\bar g`.
    A crude curvature estimate: the gradient's magnitude (Khan & Rue 2023, Sec. 4.2, RMSprop/Adam).
    Follows :class:`StochasticGradient`.
    """

    name = "squared-gradient Hessian"
    key = "squared-gradient"
    anchor = "rmsprop"
    statement = r"\mathrm{diag}\,\nabla^2\ell \approx N\,\bar g\odot\bar g"
    families = ("diagonal-gaussian",)

    def substitutions(self, terms):
        return {terms["g_batch"]: terms["n_batch"] * terms["g_mean"],
                terms["h"]: terms["n_data"] * terms["g_mean"] ** 2}


@dataclass(frozen=True)
class ReparamHessian(Approximation):
    r"""The Hessian from gradients (Stein's lemma): :math:`\mathbb{E}_q[\nabla^2\ell] = \mathbb{E}_q[\nabla\ell(\theta)(\theta - m)^\top]\,S`.

    Bonnet's and Price's theorems written the other way round: for :math:`q = \mathcal{N}(m, S^{-1})`
    the expected Hessian is an expected product of the gradient with the deviation from the mean,
    so a Monte-Carlo sample of it needs no second derivative (the "reparameterisation" Hessian
    estimate of IVON, Shen et al. 2024, Sec. 3).  For the diagonal Gaussian, elementwise,
    :math:`\mathbb{E}_q[\mathrm{diag}\,\nabla^2\ell] = s\odot\mathbb{E}_q[\nabla\ell(\theta)\odot(\theta - m)]`.
    An identity, not an approximation; unlike the Gauss–Newton estimate it can be negative,
    which the improved BLR absorbs.
    """

    name = "reparameterisation Hessian"
    key = "reparam-hessian"
    anchor = "bonnet-price"
    statement = (r"\mathbb{E}_q[\mathrm{diag}\,\nabla^2\ell] = s\odot"
                 r"\mathbb{E}_q[\nabla\ell(\theta)\odot(\theta - m)]")
    families = ("diagonal-gaussian",)
    exact = True

    def substitutions(self, terms):
        return {terms["E_h"]: terms["s"] * terms["E_g_dev"]} if "E_h" in terms and "E_g_dev" in terms else {}


@dataclass(frozen=True)
class Responsibility(Approximation):
    r"""Separated components: :math:`q(k\mid\theta) \approx 1` under the component :math:`q_k` of a mixture.

    Then :math:`\log q \approx \log\pi_k + \log q_k` where :math:`q_k` has its mass, so
    :math:`\mathbb{E}_{q_k}[\nabla\log q] \approx 0`, :math:`\mathbb{E}_{q_k}[\nabla^2\log q] \approx -S_k` and
    :math:`\mathbb{E}_{q_k}[\log q] \approx v_k + \tfrac12\log\det S_k + c` with :math:`c = -\log\pi_K -
    \tfrac D2\log 2\pi e` the same for every component (Khan & Rue 2023, Sec. 3.2).  Exact in the limit of
    components far apart; it does not penalise two components on the same mode.
    """

    name = "responsibility approximation"
    key = "responsibility"
    anchor = "multimodal"
    statement = r"q(k\mid\theta) \approx 1 \text{ under } q_k"
    families = ("gaussian-mixture",)

    def substitutions(self, terms):
        if "E_glogq" not in terms:
            return {}
        from .symbols import D

        c = sp.Symbol("c_q", real=True)
        return {terms["E_glogq"]: sp.ZeroMatrix(D, 1), terms["E_Hlogq"]: -terms["S"],
                terms["E_logq"]: terms["v"] + terms["logdet"] / 2 + c,
                terms["E_logq_K"]: terms["v_K"] + terms["logdet_K"] / 2 + c}


@dataclass(frozen=True)
class GaussHermite(Approximation):
    r"""The expectations of a GLM loss by Gauss–Hermite quadrature on each one-dimensional predictive.

    Under :math:`q = \mathcal N(m, S^{-1})` the linear predictor :math:`\eta_i = x_i^\top\theta` is
    :math:`\mathcal N(x_i^\top m, x_i^\top S^{-1}x_i)`, so :math:`\mathbb{E}_q[\nabla\ell] = X^\top\mathbb{E}[f'(\eta)]` and
    :math:`\mathbb{E}_q[\nabla^2\ell] = X^\top\mathrm{diag}\,\mathbb{E}[f''(\eta)]\,X` need only N one-dimensional
    integrals, computed with 100 Gauss–Hermite nodes (exact for polynomials of degree 199; for the
    logistic loss, whose f' has poles at ±iπ, the error is ~1e-15 at a predictive variance of 3, ~1e-8
    at 10 and ~1e-5 at 30, measured against adaptive quadrature).  No samples:
    the step is deterministic (non-conjugate VMP, Knowles & Minka 2011; Khan & Rue 2023, Sec. 5.3).
    """

    name = "Gauss-Hermite quadrature"
    key = "gauss-hermite"
    anchor = "vmp"
    statement = r"\mathbb{E}_q[f(\eta_i)] \approx \frac{1}{\sqrt{\pi}}\sum_{k} w_k\, f(\bar\eta_i + \sqrt{2}\,\sigma_i z_k)"
    families = ("multivariate-gaussian", "diagonal-gaussian")
    stage = "expectation"

    def substitutions(self, terms):
        return {}


@dataclass(frozen=True)
class Relaxation(Approximation):
    r"""The Gumbel-softmax (binary concrete) relaxation of :math:`w \sim q` on {−1, +1}: :math:`w_\tau =
    \tanh((\lambda + \varepsilon)/\tau)` with logistic noise ε, so that :math:`\nabla_\lambda\mathbb E_q[\ell]
    \approx \mathbb E_\varepsilon[\nabla_w\ell(w_\tau)\,\partial w_\tau/\partial\lambda]` (Khan & Rue 2023, Sec. 4.5;
    Maddison et al. 2017, Jang et al. 2017).  Biased for τ > 0; the bias shrinks with τ while the variance
    grows."""

    name = "Gumbel-softmax relaxation"
    key = "relaxation"
    anchor = "bayesbinn"
    statement = r"\mathbb{E}_q[\ell(w)] \approx \mathbb{E}_\varepsilon[\ell(w_\tau)],\ w_\tau = \tanh((\lambda + \varepsilon)/\tau)"
    families = ("bernoulli",)
    stage = "expectation"

    def substitutions(self, terms):
        return {}


@dataclass(frozen=True)
class Limit(Approximation):
    """A limit or assumption that turns BayesBiNN into the straight-through estimator (Khan & Rue 2023,
    Sec. 4.5): applied to the finished update, printed with ≈."""

    stage = "limit"
    families = ("bernoulli",)
    anchor = "ste"
    note = ""

    def substitutions(self, terms):
        return {}

    def rewrite(self, update, terms):
        raise NotImplementedError


@dataclass(frozen=True)
class NoNoise(Limit):
    r"""No relaxation noise, ε = 0: the relaxed weight at the mean, :math:`w_\tau = \tanh(\lambda/\tau)` (STE's
    "delta method")."""

    name = "no relaxation noise"
    key = "no-noise"
    statement = r"\varepsilon = 0"
    note = "the delta method: the expectation over $\\varepsilon$ taken at $\\varepsilon = 0$"

    def rewrite(self, update, terms):
        lam, tau = terms["lam"], terms["tau"]
        scale = sp.Symbol("s_nonoise", positive=True)
        terms["scale"], terms["scale_definition"] = scale, (1 - sp.tanh(lam / tau) ** 2) / (tau * (1 - sp.tanh(lam) ** 2))
        return update.subs(terms["sg"], scale * sp.Symbol("g_tanh", real=True))


@dataclass(frozen=True)
class ConstantScale(Limit):
    r"""The scale :math:`(1 - w_\tau^2)/(\tau(1 - \mu^2))` replaced by a constant c > 0: as τ → 0 at ε = 0 it
    vanishes for every λ ≠ 0, so the straight-through estimator keeps a constant in its place."""

    name = "constant scale"
    key = "constant-scale"
    statement = r"\frac{1 - \tanh^2(\lambda/\tau)}{\tau(1 - \mu^2)} \to c"
    note = "its limit $\\tau \\to 0$ is 0: a constant stands in for it (absorbed into the step)"

    def rewrite(self, update, terms):
        return update.subs(terms["scale"], sp.Symbol("c_s", positive=True))


@dataclass(frozen=True)
class ZeroTemperature(Limit):
    r"""τ → 0: the relaxed weight becomes the binary weight, :math:`\tanh(\lambda/\tau) \to \operatorname{sign}\lambda`."""

    name = "zero temperature"
    key = "zero-temperature"
    statement = r"\tau \to 0:\ \tanh(\lambda/\tau) \to \operatorname{sign}\lambda"
    note = "the gradient at the binary weights"

    def rewrite(self, update, terms):
        lam, tau = terms["lam"], terms["tau"]
        if sp.limit(sp.tanh(lam / tau).subs(lam, 1), tau, 0, "+") != 1:
            raise AssertionError("tanh(λ/τ) does not tend to sign λ")
        return update.subs(sp.Symbol("g_tanh", real=True), sp.Symbol("g_sign", real=True))


@dataclass(frozen=True)
class SmallStep(Limit):
    r"""ρ → 0 with α = ρNc fixed: :math:`(1-\rho)\lambda \to \lambda` and the prior's pull ρλ₀ → 0, leaving
    :math:`\lambda \leftarrow \lambda - \alpha\,\bar g(\operatorname{sign}\lambda)`: STE with latent weights λ (checked
    as the limit)."""

    name = "small step"
    key = "small-step"
    statement = r"\rho \to 0,\ \rho N c = \alpha"
    note = "the latent weights of STE are $\\lambda$"

    def rewrite(self, update, terms):
        lam, rho, n, lr = terms["lam"], terms["rho"], terms["n_data"], sp.Symbol("lr", positive=True)
        c = sp.Symbol("c_s", positive=True)
        target = lam - lr * sp.Symbol("g_sign", real=True)
        gap = sp.expand(update.subs(c, lr / (rho * n)) - target)
        if sp.limit(gap, rho, 0) != 0:
            raise AssertionError(f"STE is not the small-step limit: {gap}")
        return target


@dataclass(frozen=True)
class TextbookRewrite(Approximation):
    """A rewrite of the finished update in standard parameters (after the textbook form): a change of
    variables, or a modification that the BLR does not imply and that a popular optimiser makes."""

    stage = "textbook"
    #: a few words after the statement in the printed step
    note = ""

    def rewrite(self, update: dict, terms: dict) -> dict:
        """The update ``{lhs: rhs}`` after the rewrite (lhs symbols may be renamed)."""
        raise NotImplementedError

    def substitutions(self, terms):
        return {}


@dataclass(frozen=True)
class PerExampleScale(TextbookRewrite):
    r"""The per-example precision :math:`v = s/N`: an exact change of variables.

    With :math:`s = Nv` the RMSprop form reads :math:`v_{t+1} = (1-\rho)v_t + \rho\,\bar g^2`,
    :math:`m_{t+1} = m_t - \rho\,\bar g/v_{t+1}` (Khan & Rue 2023, Sec. 4.2).
    """

    name = "per-example precision"
    key = "per-example-scale"
    anchor = "rmsprop"
    statement = r"s = N v"
    families = ("diagonal-gaussian",)
    exact = True

    def rewrite(self, update, terms):
        import sympy as sp

        s, s_new, N = terms["s"], terms["s_new"], terms["n_data"]
        v, v_new = sp.Symbol("v", positive=True), sp.Symbol("v_new", positive=True)
        terms.update(v=v, v_new=v_new)
        out = {}
        for lhs, rhs in update.items():
            if lhs == s_new:
                out[v_new] = sp.factor_terms(sp.expand(rhs.subs(s, N * v) / N))
            else:
                out[lhs] = sp.factor_terms(sp.expand(rhs.subs({s_new: N * v_new, s: N * v})))
        return out


@dataclass(frozen=True)
class SquareRoot(TextbookRewrite):
    r"""Square-root scaling: :math:`v_{t+1} \to \sqrt{v_{t+1}} + \epsilon` in the mean step.

    A heuristic, not implied by the BLR (Khan & Rue 2023, Sec. 4.2): RMSprop and Adam divide by the
    root of the curvature estimate, and :math:`\epsilon` keeps the division finite (it stands where the
    prior's precision :math:`\delta/N` stood before the root made it inexact).
    """

    name = "square-root scaling"
    key = "square-root"
    anchor = "rmsprop"
    statement = r"v_{t+1} \to \sqrt{v_{t+1}} + \epsilon"
    note = "in the mean step; a heuristic, not implied by the BLR"
    families = ("diagonal-gaussian",)

    def rewrite(self, update, terms):
        import sympy as sp

        scale = terms.get("v_new", terms["s_new"])
        eps = sp.Symbol("eps", positive=True)
        terms["eps"] = eps
        m_new = terms["m_new"]
        return {lhs: (rhs.subs(scale, sp.sqrt(scale) + eps) if lhs == m_new else rhs) for lhs, rhs in update.items()}


@dataclass(frozen=True)
class DecoupledStep(TextbookRewrite):
    r"""Decoupled step: the mean moves by its own learning rate :math:`\alpha` (``lr``), not by :math:`\rho`.

    The BLR ties the two; decoupling keeps the fixed points (Khan & Rue 2023, Sec. 4.2).
    """

    name = "decoupled step"
    key = "decoupled-step"
    anchor = "rmsprop"
    statement = r"\rho \to \alpha"
    note = "in the mean step; the fixed points stay"
    families = ("diagonal-gaussian",)

    def statement_in(self, terms) -> str:
        r"""The statement with the step size's letter in this derivation (:math:`\eta` where :math:`\alpha` is the
        prior precision, IVON)."""
        return r"\rho \to " + terms.get("lr_latex", r"\alpha")

    def rewrite(self, update, terms):
        import sympy as sp

        lr = sp.Symbol("lr", positive=True)
        terms["lr"] = lr
        m_new = terms["m_new"]
        return {lhs: (rhs.subs(terms["rho"], lr) if lhs == m_new else rhs) for lhs, rhs in update.items()}


@dataclass(frozen=True)
class GradientAverage(TextbookRewrite):
    r"""Slow-moving mean of gradients (Adam's momentum): :math:`\bar g \to \tilde g_{t+1}` in the mean step,
    :math:`\tilde g_{t+1} = \beta_1\tilde g_t + (1 - \beta_1)\bar g`.

    The BLR with heavy-ball momentum in natural parameters becomes this when the scale vectors move
    slowly (:math:`s_{t-1}/s_{t+1} \approx 1`); Adam averages the gradients before dividing by the
    current scale, which is exactly what that approximation ignores (Khan & Rue 2023, Sec. 4.2).
    """

    name = "slow-moving gradient average"
    key = "gradient-average"
    anchor = "rmsprop"
    statement = r"\bar g \to \tilde g_{t+1} = \beta_1 \tilde g_t + (1 - \beta_1)\bar g"
    note = "in the mean step; momentum with slowly moving scale vectors"
    families = ("diagonal-gaussian",)

    def rewrite(self, update, terms):
        import sympy as sp

        g_avg, g_avg_new = sp.Symbol("g_avg", real=True), sp.Symbol("g_avg_new", real=True)
        beta1 = sp.Symbol("beta1", positive=True)
        terms.update(g_avg=g_avg, g_avg_new=g_avg_new, beta1=beta1)
        m_new, g = terms["m_new"], terms["g_mean"]
        out = {g_avg_new: beta1 * g_avg + (1 - beta1) * g}
        out.update({lhs: (rhs.subs(g, g_avg_new) if lhs == m_new else rhs) for lhs, rhs in update.items()})
        return out


@dataclass(frozen=True)
class BiasCorrection(TextbookRewrite):
    r"""Adam's bias correction at step :math:`t = 1, 2, \dots`: :math:`\tilde g \to \tilde g/(1 - \beta_1^t)`
    and :math:`v \to v/(1 - (1-\rho)^t)` in the mean step.

    Not derived by the BLR: it undoes the zero initialisation of the averages, a step-size schedule
    in effect (Khan & Rue 2023, Sec. 4.2).
    """

    name = "bias correction"
    key = "bias-correction"
    anchor = "rmsprop"
    statement = r"\tilde g \to \frac{\tilde g}{1 - \beta_1^t},\ v \to \frac{v}{1 - (1-\rho)^t}"
    note = "in the mean step; a step-size schedule, not derived by the BLR"
    families = ("diagonal-gaussian",)

    def rewrite(self, update, terms):
        import sympy as sp

        t = sp.Symbol("t", positive=True, integer=True)
        terms["t"] = t
        m_new, v_new = terms["m_new"], terms.get("v_new", terms["s_new"])
        bc2 = 1 - (1 - terms["rho"]) ** t
        root = sp.sqrt(v_new)
        subs = {root: root / sp.sqrt(bc2)} if update[m_new].has(root) else {v_new: v_new / bc2}
        if "g_avg_new" in terms:
            subs[terms["g_avg_new"]] = terms["g_avg_new"] / (1 - terms["beta1"] ** t)
        return {lhs: (rhs.xreplace(subs) if lhs == m_new else rhs) for lhs, rhs in update.items()}


@dataclass(frozen=True)
class HessianScale(TextbookRewrite):
    r"""IVON's variables: the precision :math:`s = N(h + \delta)` and the prior precision :math:`\alpha = N\delta`.

    An exact change of variables for the BLR on :math:`\bar\ell = \sum_i\ell_i + \tfrac{N\delta}{2}\|\theta\|^2`
    with minibatch means :math:`\hat g = \frac1M\mathbb{E}_q[\hat g_{\mathcal{B}}]` and
    :math:`\hat h = s\odot\frac1M\mathbb{E}_q[\sum_{i\in\mathcal{B}}\nabla\ell_i\odot(\theta - m)]`:
    :math:`h` is the Hessian estimate of the *mean* loss and :math:`\delta` the weight decay
    (Shen et al. 2024, Alg. 1).  The improved BLR then reads
    :math:`h_{t+1} = (1-\rho)h_t + \rho\hat h + \tfrac{\rho^2}{2}(h_t - \hat h)^2/(h_t + \delta)`
    (without the last term under the plain BLR), which is checked against the derived precision
    update, and the mean step
    :math:`m_{t+1} = m_t - \rho(\hat g + \delta m_t)/(h_{t+1} + \delta)`, checked likewise.
    """

    name = "Hessian of the mean loss"
    key = "hessian-scale"
    anchor = "ivon"
    statement = r"s = N(h + \delta),\ \alpha = N\delta"
    note = "with minibatch means $\\hat g$, $\\hat h$: an exact change of variables"
    families = ("diagonal-gaussian",)
    exact = True

    def rewrite(self, update, terms):
        from .algebra import is_zero as _is_zero
        from .errors import DerivationError

        N, M, rho = terms["n_data"], terms["n_batch"], terms["rho"]
        s, s_new, m, m_new = terms["s"], terms["s_new"], terms["m"], terms["m_new"]
        h, h_new = sp.Symbol("h_avg", real=True), sp.Symbol("h_avg_new", real=True)
        delta = sp.Symbol("weight_decay", positive=True)
        g_hat, g_dev, h_hat = (sp.Symbol(n, real=True) for n in ("g_hat", "g_dev", "h_hat"))
        alpha = sp.Symbol("alpha", positive=True)
        plain = {k: v for k, v in update.items() if k not in (s_new, m_new)}  # the iBLR's intermediate B
        if s_new not in update or not update[s_new].subs(plain).has(terms["E_g_dev_batch"]) or len(plain) > 1:
            raise DerivationError("hessian-scale rewrites the BLR with a reparameterisation Hessian on minibatches: "
                                  "give reparam-hessian and stochastic before it (and the improved rule for IVON)")
        improved = len(plain) == 1
        precision = N * (h + delta)
        subs = {s: precision, alpha: N * delta, terms["E_g_batch"]: M * g_hat,
                terms["E_g_dev_batch"]: M * g_dev}
        s_rhs = update[s_new].subs(plain)
        h_rhs = sp.simplify(s_rhs.subs(subs) / N - delta)
        h_hat_rhs = precision * g_dev
        target = (1 - rho) * h + rho * h_hat + (rho**2 / 2 * (h - h_hat)**2 / (h + delta) if improved else 0)
        if not _is_zero(h_rhs - target.subs(h_hat, h_hat_rhs)):
            raise AssertionError(f"IVON's Hessian update does not follow from the derived precision: {h_rhs}")
        m_rhs = update[m_new].subs(plain).subs(s_new, N * (h_new + delta)).subs(subs)
        m_target = m - rho * (g_hat + delta * m) / (h_new + delta)
        if not _is_zero(m_rhs - m_target):
            raise AssertionError(f"IVON's mean step does not follow from the derived one: {m_rhs}")
        terms.update(h_avg=h, h_avg_new=h_new, weight_decay=delta, g_hat=g_hat, g_dev=g_dev, h_hat=h_hat,
                     g_mean=g_hat, precision=precision)
        return {h_hat: h_hat_rhs, h_new: target, m_new: m_target}


@dataclass(frozen=True)
class EffectiveSampleSize(TextbookRewrite):
    r"""The effective sample size: :math:`N \to N_{\mathrm{ess}}` in the precision :math:`s = N(h + \delta)`.

    IVON's ``ess`` (Shen et al. 2024, Sec. 3): the BLR's posterior when :math:`N_{\mathrm{ess}} = N`,
    a tempered one otherwise (:math:`N_{\mathrm{ess}} > N` sharpens q, the common choice for
    deep networks).  It enters only the spread of the samples, :math:`\sigma^2 = 1/s`.
    """

    name = "effective sample size"
    key = "effective-sample-size"
    anchor = "ivon"
    statement = r"N \to N_{\mathrm{ess}}"
    note = "in $s = N(h + \\delta)$; tempering unless $N_{\\mathrm{ess}} = N$"
    families = ("diagonal-gaussian",)

    def rewrite(self, update, terms):
        ess = sp.Symbol("ess", positive=True)
        terms["ess"] = ess
        terms["precision"] = terms["precision"].subs(terms["n_data"], ess)
        return {lhs: rhs.subs(terms["n_data"], ess) for lhs, rhs in update.items()}


@dataclass(frozen=True)
class GradientBiasCorrection(TextbookRewrite):
    r"""Bias correction of the gradient average only: :math:`\tilde g \to \tilde g/(1 - \beta_1^t)` in the
    mean step, as IVON does (Shen et al. 2024, Alg. 1); the Hessian estimate starts from
    :math:`h_0` and is not corrected.  Not derived by the BLR: a step-size schedule in effect.
    """

    name = "gradient bias correction"
    key = "gradient-bias-correction"
    anchor = "ivon"
    statement = r"\tilde g \to \frac{\tilde g}{1 - \beta_1^t}"
    note = "in the mean step; a step-size schedule, not derived by the BLR"
    families = ("diagonal-gaussian",)

    def rewrite(self, update, terms):
        t = sp.Symbol("t", positive=True, integer=True)
        terms["t"] = t
        m_new, g = terms["m_new"], terms["g_avg_new"]
        return {lhs: (rhs.xreplace({g: g / (1 - terms["beta1"] ** t)}) if lhs == m_new else rhs)
                for lhs, rhs in update.items()}


#: CLI name -> approximation (``"rho=<number>"`` is parsed by :func:`as_approximation`)
APPROXIMATIONS: dict[str, Approximation] = {
    a.key: a for a in (DeltaMethod(), FixedCovariance(), UnitStep(), StochasticGradient(), GaussNewton(),
                       SquaredGradient(), ReparamHessian(), Responsibility(), PerExampleScale(), SquareRoot(),
                       DecoupledStep(),
                       GradientAverage(), BiasCorrection(), HessianScale(), EffectiveSampleSize(), GaussHermite(),
                       Relaxation(), NoNoise(), ConstantScale(), ZeroTemperature(), SmallStep(),
                       GradientBiasCorrection())
}


def as_approximation(a) -> Approximation:
    """An :class:`Approximation` from itself or its key: ``"delta"``, ``"rho=1"``, ``"rho=0.5"``, ``"rho=1/4"``.

    >>> as_approximation("rho=0.25")
    StepSize(value=1/4)
    >>> as_approximation("rho=2")
    Traceback (most recent call last):
    ...
    ValueError: rho must be in (0, 1], got '2'
    """
    if isinstance(a, Approximation):
        return a
    if not isinstance(a, str):
        raise TypeError(f"an approximation must be an Approximation or its key (a str), got {type(a).__name__}")
    key = a.strip().replace(" ", "")
    if key in APPROXIMATIONS:
        return APPROXIMATIONS[key]
    if key.startswith("rho="):
        step = StepSize(key[4:])
        return UnitStep() if step.value == 1 else step
    raise ValueError(f"unknown approximation {a!r}; known: {', '.join(APPROXIMATIONS)}, or rho=<number in (0, 1]>")


def ordered(approximations) -> tuple[Approximation, ...]:
    """Check that an order of approximations has one meaning: the minibatch estimate rewrites the sums
    that the Gauss–Newton approximation creates, so ``stochastic`` must come after ``gauss-newton``;
    no approximation may be given twice, and at most one step size."""
    approx = tuple(as_approximation(a) for a in approximations)
    keys = [a.key for a in approx]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ValueError(f"approximation {sorted(dup)[0]!r} is given twice")
    if sum(isinstance(a, StepSize) for a in approx) > 1:
        raise ValueError("give at most one step size rho=…")
    if "squared-gradient" in keys and ("stochastic" not in keys
                                       or keys.index("stochastic") > keys.index("squared-gradient")):
        raise ValueError("'squared-gradient' squares the mean minibatch gradient: give 'stochastic' before it")
    natural = [k for a, k in zip(approx, keys) if getattr(a, "stage", "natural") in ("natural", "expectation")]
    limits = [k for a, k in zip(approx, keys) if getattr(a, "stage", "") == "limit"]
    if limits and [k for k in keys if k in limits] != keys[len(keys) - len(limits):]:
        raise ValueError("the limits of STE (no-noise, constant-scale, zero-temperature, small-step) come last")
    if [k for k in keys if k in natural] != keys[:len(natural)]:
        raise ValueError("rewrites of the textbook form (per-example-scale, square-root, decoupled-step, "
                         "gradient-average, bias-correction, hessian-scale, effective-sample-size, "
                         "gradient-bias-correction) come after the approximations of the natural gradient")
    if "stochastic" in keys and "gauss-newton" in keys and keys.index("stochastic") < keys.index("gauss-newton"):
        raise ValueError("'stochastic' before 'gauss-newton' would estimate a sum that does not exist yet: "
                         "give gauss-newton first (it creates the sum of squared gradients that the minibatch "
                         "estimates)")
    if "stochastic" in keys and "reparam-hessian" in keys and keys.index("stochastic") < keys.index("reparam-hessian"):
        raise ValueError("'stochastic' before 'reparam-hessian' would leave the expected Hessian a full sum: give "
                         "reparam-hessian first (its gradient term is what the minibatch estimates)")
    return approx
