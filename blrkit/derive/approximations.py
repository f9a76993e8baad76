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
    families = ("gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian")

    def substitutions(self, terms):
        pairs = (("E_g", "g"), ("E_H", "H"), ("E_h", "h"), ("E_g_batch", "g_batch"),
                 ("E_h_gn", "h_gn"), ("E_h_gn_batch", "h_gn_batch"))
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
                "gaussian")

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
    families = ("gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian")

    def substitutions(self, terms):
        scale = terms["n_data"] / terms["n_batch"]
        out = {}
        if "g" in terms and "g_batch" in terms:
            out[terms["g"]] = scale * terms["g_batch"]
        if "E_g" in terms and "E_g_batch" in terms:
            out[terms["E_g"]] = scale * terms["E_g_batch"]
        for full in ("h_gn", "E_h_gn"):
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


#: CLI name -> approximation (``"rho=<number>"`` is parsed by :func:`as_approximation`)
APPROXIMATIONS: dict[str, Approximation] = {
    a.key: a for a in (DeltaMethod(), FixedCovariance(), UnitStep(), StochasticGradient(), GaussNewton(),
                       SquaredGradient(), PerExampleScale(), SquareRoot(), DecoupledStep(), GradientAverage(),
                       BiasCorrection())
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
    natural = [k for a, k in zip(approx, keys) if getattr(a, "stage", "natural") == "natural"]
    if [k for k in keys if k in natural] != keys[:len(natural)]:
        raise ValueError("rewrites of the textbook form (per-example-scale, square-root, decoupled-step, "
                         "gradient-average, bias-correction) come after the approximations of the natural gradient")
    if "stochastic" in keys and "gauss-newton" in keys and keys.index("stochastic") < keys.index("gauss-newton"):
        raise ValueError("'stochastic' before 'gauss-newton' would estimate a sum that does not exist yet: "
                         "give gauss-newton first (it creates the sum of squared gradients that the minibatch "
                         "estimates)")
    return approx
