r"""The support matrix: a grid of requests that the engine must derive and certify, or refuse clearly.

Each :class:`Request` is what a user would type (a family, a loss, a prior, approximations, a
rule).  :func:`run` derives it, emits and executes the step, and certifies it
(:mod:`blrkit.derive.certify`); a request the engine refuses must be refused with a one-line reason.
``python -m blrkit.derive.support`` writes the documentation page ``docs/support_matrix.md``;
``--check`` prints the diff a regeneration would make and exits 1 when there is one.

The grid covers every family ``blrkit derive --list`` offers and two user families (the von Mises
on the circle, and the inverse Gaussian, whose base measure is not constant), each with the
conjugate loss where there is one, losses with closed-form expectations, and a loss with none;
every approximation that applies, and symbolic and numeric ρ.

>>> len(REQUESTS) >= 80
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

#: the repository's ``docs`` folder
PAGE = Path(__file__).resolve().parents[2] / "docs" / "support_matrix.md"


@dataclass(frozen=True)
class Request:
    """One request: ``loss`` is ``None`` (the family's default), ``"oracle"``, ``"glm:NAME"`` or an
    expression in θ (and one datum ``y``)."""

    family: str
    loss: str | None = None
    prior: str = "default"
    approximations: tuple = ()
    rule: str = "blr"

    @property
    def label(self) -> str:
        parts = [self.family, self.loss or "default loss"]
        if self.prior != "default":
            parts.append(f"prior {self.prior}")
        parts.append(", ".join(self.approximations) or "no approximation")
        if self.rule != "blr":
            parts.append(f"rule {self.rule}")
        return " | ".join(parts)


def _von_mises():
    """The von Mises family, T = (cos θ, sin θ) on the circle."""
    import sympy as sp

    from ..families import ExponentialFamily, Parameter

    th = sp.Symbol("theta", real=True)
    a, b = sp.symbols("a b", real=True)
    kappa, loc = sp.symbols("kappa", positive=True), sp.Symbol("loc", real=True)
    von_mises = ExponentialFamily.from_log_partition(
        "von Mises", (th,), (sp.cos(th), sp.sin(th)), sp.S.Zero, (a, b),
        sp.log(2 * sp.pi * sp.besseli(0, sp.sqrt(a**2 + b**2))), support=(("circle", 1),),
        standard=(Parameter("loc", loc, "real", r"\mu"), Parameter("kappa", kappa, "positive", r"\kappa")),
        standard_to_natural=(kappa * sp.cos(loc), kappa * sp.sin(loc)),
        natural_to_standard={"loc": sp.atan2(b, a), "kappa": sp.sqrt(a**2 + b**2)},
        closed_forms={"newton_start": (1.0, 0.0)},
        example=lambda rng: {"loc": float(rng.uniform(-2.5, 2.5)), "kappa": float(rng.uniform(0.5, 3.0))})
    return von_mises


def _inverse_gaussian():
    """The inverse Gaussian family, T = (x, 1/x), log h = −(3/2) log x: a base measure that is not constant."""
    import sympy as sp

    from ..families import ExponentialFamily, Parameter

    x = sp.Symbol("theta", positive=True)
    e1, e2 = sp.symbols("eta1 eta2", negative=True)
    m, nu = sp.symbols("m nu", positive=True)
    logp = (-sp.log(2 * sp.pi * x**3) / 2 + e1 * x + e2 / x + 2 * sp.sqrt(e1 * e2) + sp.log(-2 * e2) / 2)
    inverse_gaussian = ExponentialFamily.from_log_density(
        "inverse Gaussian", (x,), logp, (e1, e2), support=(("positive", 1),),
        standard=(Parameter("m", m, "positive", "m"), Parameter("nu", nu, "positive", r"\nu")),
        standard_to_natural=(-nu / (2 * m**2), -nu / 2),
        natural_to_standard={"m": sp.sqrt(e2 / e1), "nu": -2 * e2},
        closed_forms={"newton_start": (-0.5, -0.5)},
        example=lambda rng: {"m": float(rng.uniform(0.5, 2.0)), "nu": float(rng.uniform(1.0, 4.0))})
    return inverse_gaussian


#: key -> builder of the two user families, built on first use (the inverse Gaussian checks its normalisation
#: by quadrature, with SciPy: a request for a shipped family need not pay for it)
_USER_BUILDERS = {"von-mises": _von_mises, "inverse-gaussian": _inverse_gaussian}
#: the keys of the user families, known without building them
USER_FAMILY_KEYS = tuple(_USER_BUILDERS)


@lru_cache(maxsize=None)
def user_family(key: str):
    """The user family ``key`` (one of :data:`USER_FAMILY_KEYS`), built once per process."""
    if key not in _USER_BUILDERS:
        raise ValueError(f"key: {key!r} is not a user family ({', '.join(USER_FAMILY_KEYS)})")
    return _USER_BUILDERS[key]()


def user_families() -> dict:
    """Two families a user builds: the von Mises (T = (cos θ, sin θ) on the circle) and the inverse
    Gaussian (T = (x, 1/x), log h = −(3/2) log x: a base measure that is not constant)."""
    return {key: user_family(key) for key in USER_FAMILY_KEYS}


def _grid() -> tuple:
    R = Request
    out = []
    # -- Gaussian candidates: an oracle, GLM losses, losses in θ; delta, fixed covariance, Gauss–Newton,
    # minibatches; symbolic and numeric ρ
    for fam in ("gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian"):
        out += [R(fam, "oracle", "none", ()), R(fam, "oracle", "none", ("delta",)),
                R(fam, "oracle", "none", ("delta", "rho=1/2")), R(fam, "oracle", "none", ("delta", "stochastic")),
                R(fam, "glm:logistic", "isotropic", ("delta",)), R(fam, "glm:logistic", "isotropic", ()),
                R(fam, "glm:poisson", "isotropic", ("delta", "rho=1")), R(fam, "glm:probit", "isotropic", ("delta",)),
                R(fam, "glm:squared", "isotropic", ()),
                R(fam, "theta_1**4 - 2*theta_1**2 + theta_1*theta_2", "default", ()),
                R(fam, "theta_1**4 - 2*theta_1**2 + theta_1*theta_2", "default", ("delta", "rho=1/4")),
                R(fam, "log(1 + exp(theta_1 - 2*theta_2)) + theta_2**2", "default", ()),
                R(fam, "cos(theta_1) + theta_2**2", "default", ()),
                R(fam, "glm:logistic", "isotropic", ("delta", "stochastic"))]
    for fam in ("multivariate-gaussian", "diagonal-gaussian"):
        out += [R(fam, "oracle", "none", ("fixed-covariance",)), R(fam, "oracle", "none", ("fixed-covariance", "delta")),
                R(fam, "oracle", "none", ("rho=1",))]
    out += [R("diagonal-gaussian", "oracle", "none", ("gauss-newton", "stochastic")),
            R("diagonal-gaussian", "oracle", "none", ("delta", "gauss-newton", "stochastic")),
            R("diagonal-gaussian", "glm:logistic", "isotropic", ("gauss-newton", "stochastic")),
            R("diagonal-gaussian", "glm:logistic", "isotropic", ("delta", "gauss-newton")),
            R("multivariate-gaussian", "quadratic", "default", ("rho=1",)),
            R("multivariate-gaussian", "oracle", "none", (), "improved")]
    # -- the scalar Gaussian (conjugate mean), and the other shipped families
    out += [R("gaussian", None, "default", ("rho=1",)), R("gaussian", None, "default", ()),
            R("gaussian", None, "default", ("stochastic",)), R("gaussian", "theta**4 - theta", "default", ()),
            R("gaussian", "exp(theta/2) + theta**2", "none", ("rho=1/2",)), R("gaussian", "log(1 + theta**2)", "default", ()),
            R("gaussian", "theta**2", "default", ("delta",))]
    out += [R("bernoulli", "3*theta - 1", "default", ()), R("bernoulli", "exp(2*theta) + theta**2", "none", ("rho=1/2",)),
            R("bernoulli", "(theta - y)**2", "default", ("rho=1",)), R("bernoulli", "(theta - y)**2", "default", ("stochastic",)),
            R("bernoulli", "oracle", "default", ())]
    out += [R("categorical", "theta_1 - 2*theta_2", "default", ()),
            R("categorical", "exp(theta_1) + theta_1*theta_2", "none", ("rho=1/2",)),
            R("categorical", "(theta_1 - theta_2)**2 + 3*theta_2", "default", ("rho=1",))]
    out += [R("beta", None, "default", ("rho=1",)), R("beta", None, "default", ()), R("beta", None, "default", ("stochastic",)),
            R("beta", "theta**2 - log(theta)", "default", ("rho=1/2",)), R("beta", "exp(theta)", "none", ()),
            R("beta", "log(theta) + 2*log(1 - theta)", "none", ("rho=1",))]
    out += [R("gamma", None, "default", ("rho=1",)), R("gamma", None, "default", ()), R("gamma", None, "default", ("stochastic",)),
            R("gamma", "theta**2 - 3*log(theta)", "default", ("rho=1/2",)), R("gamma", "exp(-theta) + 1/theta", "default", ()),
            R("gamma", "sin(theta)", "default", ())]
    out += [R("exponential", "2*theta + exp(theta/2)", "default", ()), R("exponential", "theta - y*log(theta)", "default", ("rho=1",)),
            R("exponential", "log(1 + theta)", "default", ("rho=1/2",))]
    out += [R("poisson", "theta + exp(-theta)", "default", ()), R("poisson", "theta**2 - 3*theta", "default", ("rho=1/2",)),
            R("poisson", "sqrt(1 + theta)", "default", ())]
    out += [R("dirichlet", None, "default", ("rho=1",)), R("dirichlet", None, "default", ()),
            R("dirichlet", None, "default", ("stochastic",)), R("dirichlet", "log(theta_1) - log(theta_2)", "default", ("rho=1/2",)),
            R("dirichlet", "sqrt(theta_1)", "default", ())]
    out += [R("normal-gamma", None, "default", ("rho=1",)), R("normal-gamma", None, "default", ()),
            R("normal-gamma", None, "default", ("stochastic",)), R("normal-gamma", "tau*x**2 - log(tau)", "default", ("rho=1/2",)),
            R("normal-gamma", "tau + x**2", "default", ()), R("normal-gamma", "x**4", "default", ())]
    # -- candidates whose model is their own, and the mixture (certified by their rows' counterparts)
    out += [R("gaussian-mixture", "oracle", "default", ("responsibility", "delta")),
            R("gaussian-mixture", "oracle", "default", (), "improved"),
            R("gaussian-mixture", "oracle", "default", ("fixed-covariance", "responsibility", "stochastic")),
            R("categorical+gaussian", None, "default", ("delta", "rho=1")),
            R("dirichlet+categorical", None, "default", ("stochastic", "rho=1"))]
    # -- user families
    out += [R("von-mises", "2*cos(theta - 1)", "default", ()), R("von-mises", "3*sin(theta) - cos(theta + 2)", "default", ("rho=1/2",)),
            R("von-mises", "-y*cos(theta) + sin(theta)", "default", ("rho=1",)), R("von-mises", "theta**2", "default", ())]
    out += [R("inverse-gaussian", "theta + 1/theta", "default", ("rho=1",)), R("inverse-gaussian", "theta", "none", ()),
            R("inverse-gaussian", "log(theta)", "default", ("rho=1/2",)), R("inverse-gaussian", "y*theta + 1/theta", "default", ())]
    return tuple(out)


REQUESTS = _grid()


def family_object(key: str):
    """The family object of a request's family key (shipped or user)."""
    from ..families import FAMILIES

    if key in USER_FAMILY_KEYS:
        return user_family(key)
    return FAMILIES[key]()


def arguments(request: Request) -> tuple:
    """``derive``'s positional arguments (family, loss, prior, approximations) for ``request``."""
    import sympy as sp

    from .candidates import Gaussian, Mixture
    from .conjugate import I, Y, Likelihood
    from .losses import OracleLoss, glm_loss, quadratic_loss
    from .products import MeanField, as_candidate
    from .parsing import parse_expression

    family = request.family if request.family not in USER_FAMILY_KEYS else family_object(request.family)
    candidate = as_candidate(family)
    if isinstance(candidate, MeanField):  # a model of its own (EM, SVI for LDA): no loss or prior to give
        return request.family, None, None, request.approximations
    gaussian = isinstance(candidate, (Gaussian, Mixture))  # a loss in θ_1, θ_2, its prior in the loss
    prior = {"default": None, "none": None if gaussian else "none", "isotropic": "isotropic"}[request.prior]
    text = request.loss
    if text is None:
        loss = None
    elif text == "oracle":
        loss = OracleLoss()
    elif text == "quadratic":
        loss, prior = quadratic_loss()
    elif text.startswith("glm:"):
        loss = glm_loss(text[4:])
    elif gaussian:
        names = {n for n in ("theta", "theta_1", "theta_2") if n in text}
        loss = parse_expression(text, {n: sp.Symbol(n, real=True) for n in names})
    else:
        fam = family_object(request.family)
        local = {s.name: s for s in fam.theta}
        local["y"] = Y[I]
        loss = parse_expression(text, local)
        loss = Likelihood("user-given", loss) if loss.has(Y) else loss
    return family, loss, prior, request.approximations


@dataclass(frozen=True)
class Row:
    """A request's outcome: ``status`` is ``"certified"``, ``"failed"``, ``"counterpart"`` (a path the
    certificate does not compute: the row's textbook counterpart checks it) or ``"refused"``."""

    request: Request
    status: str
    detail: str
    certificate: object = None
    derive_seconds: float = 0.0
    certify_seconds: float = 0.0
    #: what the derivation prints, for the readability checks (tests/derive/test_readability.py): see :func:`views`
    printed: dict = field(default_factory=dict, compare=False)


def views(derivation) -> dict:
    """What a derivation prints: its text, Markdown and LaTeX with the steps, its update alone as text and as LaTeX,
    and the names of its emitted step's arguments."""
    return {"text": derivation.text(), "text update": derivation.text(steps=False), "markdown": derivation.markdown(),
            "latex": derivation.latex(), "latex update": derivation.latex(steps=False),
            "arguments": tuple(a.name for a in derivation.arguments)}


def run(request: Request, *, seed: int = 0) -> Row:
    """Derive, emit, execute and certify ``request``; a refusal is a row too, with its reason."""
    from .certify import CertificateError, certify
    from .errors import DerivationError

    t0 = time.perf_counter()
    try:
        family, loss, prior, approx = arguments(request)
        from .blr import derive

        d = derive(family, loss, prior, approx, rule=request.rule)
        d.compile()
    except DerivationError as e:
        return Row(request, "refused", str(e), derive_seconds=time.perf_counter() - t0)
    t1 = time.perf_counter()
    try:
        c = certify(d, seed=seed)
    except CertificateError as e:
        return Row(request, "counterpart", str(e), None, t1 - t0, time.perf_counter() - t1, views(d))
    t2 = time.perf_counter()
    if c.counterpart:
        return Row(request, "counterpart", f"{', '.join(c.counterpart)}: no generic numeric meaning", c, t1 - t0,
                   t2 - t1, views(d))
    status = "certified" if c.passed else "failed"
    return Row(request, status, f"{c.method}; error {c.error_text()} ≤ {c.tolerance:.0e}" if c.passed else
               f"{c.method}; error {c.error:.1e} > tolerance {c.tolerance:.1e}", c, t1 - t0, t2 - t1, views(d))


_HEADER = """\
<!-- generated by python -m blrkit.derive.support from blrkit.derive.support.REQUESTS: do not edit. -->
<!-- Regenerate with: python -m blrkit.derive.support (--check prints the diff, as the tests do). -->

(support-matrix)=
# Support matrix

Every request of `blrkit.derive.support.REQUESTS`: derived, emitted, executed and certified
(`blrkit.derive.certify.certify(d)`, `blrkit derive … --certify`) against a BLR step computed by numbers that shares
no code with the symbolic derivation (quadrature or enumeration over q, complex-step natural gradients;
see `blrkit.derive.certify`). ✓: certified, with the rule and the largest relative error ≤ its tolerance
(rounding, the rule's own error, finite differences, Monte-Carlo standard errors). ◇: derived, and
certified by the row's textbook counterpart (`blrkit verify`), because an approximation or a candidate
has no generic numeric meaning. ✗: refused, with the engine's reason.
"""


def page(rows) -> str:
    """The Markdown page of ``rows``."""
    counts = {s: sum(r.status == s for r in rows) for s in ("certified", "counterpart", "refused", "failed")}
    lines = [_HEADER, f"{len(rows)} requests: {counts['certified']} certified, {counts['counterpart']} by their "
             f"counterpart, {counts['refused']} refused, {counts['failed']} failed.", "",
             "| family | loss | prior | approximations | result |", "|---|---|---|---|---|"]
    mark = {"certified": "✓", "counterpart": "◇", "refused": "✗", "failed": "FAILED"}
    for r in rows:
        q = r.request
        approx = ", ".join(q.approximations) + (f"; rule {q.rule}" if q.rule != "blr" else "")
        detail = r.detail.replace("|", "\\|").replace("*", "\\*").replace("\n", " ")
        loss = (q.loss or "default").replace("|", "\\|").replace("*", "\\*")
        lines.append(f"| `{q.family}` | {loss} | {q.prior} | {approx or 'none'} | {mark[r.status]} {detail} |")
    return "\n".join(lines) + "\n"


def rows(requests=REQUESTS) -> list:
    return [run(r) for r in requests]


def main(argv=None) -> int:
    """``python -m blrkit.derive.support [--check] [--out PATH]``: the command line of every generator
    (:func:`blrkit.derive.emit.check_or_write`); ``--help`` prints the usage and writes nothing."""
    from .emit import check_or_write

    return check_or_write(lambda out: {out: page(rows())}, PAGE, prog="python -m blrkit.derive.support",
                          description=__doc__.splitlines()[0], argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
