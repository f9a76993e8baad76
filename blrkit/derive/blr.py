r"""``derive``: the Bayesian learning rule for a family, a loss and approximations.

.. math::

    \lambda_{t+1} = (1-\rho)\lambda_t - \rho\nabla_\mu\mathbb{E}_{q_t}[\bar\ell(\theta)],
    \qquad \bar\ell = \ell - \log p_0

(Khan & Rue 2023, Sec. 1.2), brought by SymPy to the textbook form of a known algorithm.
"""

from __future__ import annotations

import keyword
import re

from sympy import MatrixSymbol

from .approximations import Approximation, FixedCovariance, ordered
from .derivation import Argument, Assignment, Derivation, Equation
from .errors import DerivationError
from .gaussian import EXPECTATIONS as _EXPECTED
from .gaussian import derive_gaussian
from .known import known_algorithm
from .losses import ExpressionLoss, OracleLoss
from .parsing import check_numbers
from .printing import Notation, equation_line
from .symbols import RHO

GAUSSIAN_KINDS = {
    "gaussian-fixed-covariance": "fixed",
    "multivariate-gaussian": "full",
    "diagonal-gaussian": "diagonal",
}

_STATE_DOCS = {
    "m": "mean m_t, (..., D)",
    "S": "precision S_t, (..., D, D), symmetric positive definite",
    "s": "diagonal precision s_t, (..., D), positive",
    "rho": "learning rate ρ in (0, 1], scalar or (...)",
    "grad": "callable, m (..., D) -> ∇ℓ(m) (..., D)",
    "hess": "callable, m (..., D) -> ∇²ℓ(m) (..., D, D)",
    "hess_diag": "callable, m (..., D) -> diag ∇²ℓ(m) (..., D)",
    "grad_batch": "callable, m (..., D) -> sum of the minibatch gradients (..., D)",
    "grad_sums": "callable, m (..., D) -> (Σ_i ∇ℓ_i(m), Σ_i ∇ℓ_i(m)²) over the minibatch, each (..., D)",
    "grad_mean": "callable, m (..., D) -> the mean minibatch gradient ḡ(m) = (1/M) Σ_{i∈B} ∇ℓ_i(m), (..., D)",
    "v": "per-example precision v_t = s_t / N (RMSprop's and Adam's second moment), (..., D), positive",
    "g_avg": "average of past gradients g̃_t (Adam's first moment), (..., D)",
    "lr": "learning rate α of the mean step (decoupled from ρ), scalar or (...)",
    "eps": "ε added to the square root, scalar or (...)",
    "beta1": "β₁, the decay of the gradient average, scalar or (...)",
    "t": "the step number t = 1, 2, … (bias correction)",
    "h_avg": "Hessian estimate h_t of the mean loss (IVON), (..., D); the precision is N_ess (h_t + δ)",
    "weight_decay": "weight decay δ (prior precision α = N δ), scalar or (...)",
    "ess": "effective sample size N_ess (N for the BLR posterior), scalar or (...)",
    "n_data": "number N of terms in the loss",
    "n_batch": "number M of terms in the minibatch",
    "n_samples": "number of Monte-Carlo samples",
    "rng": "numpy.random.Generator for the Monte-Carlo samples",
}


#: the candidate of EM: one categorical per observation (the latent assignments) and a Gaussian over the
#: parameters (Khan & Rue 2023, Table 1: "Exp-family + Gaussian")
LATENT_GAUSSIAN = "categorical+gaussian"
#: the candidate of SVI for LDA: Dirichlet topics and document proportions, categorical word assignments
TOPIC_MODEL = "dirichlet+categorical"


def _family_key(family) -> str:
    from ..families import FAMILIES

    if isinstance(family, str):
        if family not in FAMILIES:
            raise DerivationError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
        return family
    key = getattr(family, "key", None)
    if key is None:
        raise TypeError(f"family must be an ExponentialFamily or its key (a str), got {type(family).__name__}")
    return key


def derive(family, loss=None, prior=None, approximations=(), *, rule: str = "blr", function_name: str = "blr_step",
           title: str | None = None, anchor: str | None = None) -> Derivation:
    r"""Derive the BLR update of ``family`` for ``loss`` under ``approximations``.

    .. math::

        \lambda_{t+1} = (1-\rho)\lambda_t - \rho\nabla_\mu\mathbb{E}_{q_t}[\bar\ell(\theta) + \log h(\theta)]

    (Khan & Rue 2023, Sec. 1.2–1.3), in four printed stages: the expected loss, its natural
    gradient (Bonnet's and Price's theorems for Gaussians; the chain rule through the family's
    maps, :math:`\nabla_\mu = F(\lambda)^{-1}\nabla_\lambda`, for any other family), the
    approximations in the order given, and the standard parameters / textbook form.

    Parameters
    ----------
    family : ExponentialFamily or str
        The candidate q, or its key (``"multivariate-gaussian"``, ``"beta"``, …; see
        :data:`blrkit.families.FAMILIES`).
    loss : optional
        The loss ℓ:

        - a SymPy expression in the family's θ symbols (``theta`` for a scalar θ,
          ``theta_1``, …, ``theta_D`` for a Gaussian over D components), e.g. a polynomial,
          the Rosenbrock function, or ``theta**2 - 3*log(theta)`` for a Gamma;
        - a :class:`GLMLoss` (:func:`glm_loss`): :math:`\sum_i f(x_i^\top\theta, y_i)`,
          e.g. ``glm_loss("logistic")``;
        - a :class:`Likelihood` over data :math:`y_1..y_N` (conjugate Bayes);
        - an :class:`OracleLoss` (Gaussians; known through ∇ℓ and ∇²ℓ), the default for
          Gaussian families; other families default to their conjugate likelihood;
        - an :class:`ExpressionLoss` in matrix symbols (:func:`quadratic_loss`,
          :func:`linear_gaussian_loss`).
    prior : GaussianPrior, ConjugatePrior, ``"isotropic"`` or ``"none"``, optional
        The prior p₀ in the family; ``"isotropic"`` is :math:`\mathcal{N}(0, \alpha^{-1}I)`
        (:func:`isotropic_prior`).  ``None``: Gaussians ℓ̄ = ℓ, other families the prior in the
        family with standard parameters ``<name>_0``; ``"none"``: ℓ̄ = ℓ for every family (then a
        non-constant base measure enters the update).
    approximations : str, Approximation, or a sequence of them
        Applied in order: ``"delta"``, ``"fixed-covariance"``, ``"gauss-newton"``, ``"stochastic"``,
        ``"rho=1"`` or any step size ``"rho=0.5"``, ``"rho=1/4"`` (:data:`RHO` stays symbolic
        otherwise).
    rule : {"blr", "improved"}
        ``"improved"``: the improved BLR of Lin, Schmidt & Khan (2020) for Gaussian candidates,
        :math:`S_{t+1} = \tfrac12(S_t + B S_t^{-1} B)` with :math:`B` the plain BLR's precision,
        positive definite for any ρ and any Hessian estimate.

    Returns
    -------
    Derivation

    Raises
    ------
    blrkit.derive.errors.DerivationError
        An unknown family, a loss in symbols that are not θ or declared data, an expectation that
        does not exist, or a family/approximation pair that makes no sense; the message names the
        term and the approximation that would remove it.

    Examples
    --------
    Newton's method is the BLR with a Gaussian, the delta method and ρ = 1:

    >>> d = derive("multivariate-gaussian", approximations=["delta", "rho=1"])
    >>> from blrkit.derive.printing import latex
    >>> [latex(eq.rhs) for eq in d.update]
    ['\\nabla^2\\ell(m_t)', 'm_t - S_{t+1}^{-1} \\nabla\\ell(m_t)']

    Logistic regression by the BLR is Newton's method (IRLS):

    >>> from blrkit.derive import glm_loss
    >>> derive("multivariate-gaussian", glm_loss("logistic"), "isotropic", ["delta", "rho=1"]).title
    "Newton's method (IRLS for a GLM)"
    """
    from .losses import GaussianPrior, GLMLoss, isotropic_prior

    if rule not in ("blr", "improved"):
        raise DerivationError(f"rule must be 'blr' or 'improved', got {rule!r}")
    _check_names(function_name, title, anchor)
    if approximations is None:
        approximations = ()
    elif isinstance(approximations, (str, Approximation)):
        approximations = (approximations,)
    elif not isinstance(approximations, (list, tuple)):
        raise TypeError("approximations must be an approximation's key (a str), an Approximation or a list or "
                        f"tuple of them, got {type(approximations).__name__}")
    try:
        approx = ordered(approximations)
    except ValueError as e:
        raise DerivationError(str(e)) from None
    if family == TOPIC_MODEL:  # Dirichlet topics and proportions, categorical assignments: SVI for LDA (Sec. 5.3)
        from .lda import derive_lda

        if loss is not None or prior is not None or rule != "blr":
            raise DerivationError(f"the {TOPIC_MODEL} candidate derives SVI for latent Dirichlet allocation (its loss, "
                                  "its Dirichlet priors, the plain rule): give no loss, prior or rule")
        return derive_lda(approx, function_name=function_name, title=title, anchor=anchor)
    if family == LATENT_GAUSSIAN:  # q(z) q(θ): EM (Sec. 5.2)
        from .em import derive_em

        if loss is not None or prior is not None or rule != "blr":
            raise DerivationError(f"the {LATENT_GAUSSIAN} candidate derives EM for a Gaussian mixture (its complete-data "
                                  "loss, a flat prior, the plain rule): give no loss, prior or rule")
        return derive_em(approx, function_name=function_name, title=title, anchor=anchor)
    key = _family_key(family)
    for a in approx:
        if a.families and key not in a.families:
            raise DerivationError(f"{a.name} does not apply to the {key} family "
                                  f"(it applies to: {', '.join(a.families)})")
    fam = _family_object(family, key)
    if isinstance(prior, str):
        if prior not in ("isotropic", "none"):
            raise DerivationError(f"unknown prior {prior!r}; known: 'isotropic' (N(0, α⁻¹I), Gaussians), 'none' "
                                  "(ℓ̄ = ℓ) or a prior object")
        if prior == "isotropic" and key not in GAUSSIAN_KINDS:
            raise DerivationError(f"the isotropic Gaussian prior needs a Gaussian family, not {key}")
        if prior == "isotropic":
            prior = isotropic_prior()
        elif key in GAUSSIAN_KINDS:
            prior = None
    if key == "gaussian-mixture":
        from .mixture import derive_mixture

        if prior is not None:
            raise DerivationError("the gaussian-mixture family takes the prior in its oracle loss")
        return derive_mixture(OracleLoss() if loss is None else loss, approx, rule=rule, function_name=function_name,
                              title=title, anchor=anchor)
    loss = _as_loss(key, fam, loss)
    if title is None and anchor is None:
        title, anchor = _known_algorithm(key, loss, prior, approx)
        if rule == "improved" and anchor != "ivon":  # IVON is an improved BLR by name
            title, anchor = f"Improved BLR ({title or 'Gaussian BLR'})", "improved-blr"
    if key in GAUSSIAN_KINDS:
        kind = GAUSSIAN_KINDS[key]
        if any(isinstance(a, FixedCovariance) for a in approx):
            key, kind = "gaussian-fixed-covariance", "fixed"
        if prior is not None and not isinstance(prior, GaussianPrior):
            raise TypeError(f"prior of a Gaussian candidate must be 'isotropic', 'none', None or a GaussianPrior, got "
                            f"{type(prior).__name__}")
        if isinstance(loss, OracleLoss) and prior is not None and prior.isotropic is None:
            raise DerivationError("with an OracleLoss, put the prior into the loss (ℓ̄ = ℓ − log p₀), or give "
                                  "the isotropic prior N(0, α⁻¹I)")
        if rule == "improved" and kind == "fixed":
            raise DerivationError("the improved BLR changes the precision update: a fixed covariance has none")
        fields = derive_gaussian(kind, loss, prior, approx, rule)
        return _with_request(_assemble_gaussian(key, fields, approx, function_name, title, anchor),
                             None, loss, prior, approx, rule)
    if rule != "blr":
        raise DerivationError(f"the improved BLR is implemented for Gaussian candidates, not {key}")
    if key == "bernoulli" and isinstance(loss, OracleLoss):
        from .binary import derive_binary

        return derive_binary(loss, prior, approx, function_name=function_name, title=title, anchor=anchor)
    if isinstance(loss, (OracleLoss, GLMLoss, ExpressionLoss)):
        raise DerivationError(f"the {key} family takes a loss in its θ ({', '.join(map(str, fam.theta))}) "
                              f"or a likelihood over data; {type(loss).__name__} needs a Gaussian candidate")
    from .conjugate import derive_conjugate

    return _with_request(derive_conjugate(fam, loss, prior, approx, function_name=function_name, title=title,
                                          anchor=anchor), fam, loss, prior, approx, rule)


def _check_names(function_name, title, anchor) -> None:
    """The names a derivation is given: ``function_name`` a Python identifier (the emitted step's name), ``title``
    a str, ``anchor`` one of :data:`blrkit.paper.ANCHORS` (the section it cites)."""
    from ..paper import ANCHORS

    if not isinstance(function_name, str):
        raise TypeError(f"function_name must be a str, got {type(function_name).__name__}")
    if not function_name.isidentifier() or keyword.iskeyword(function_name):
        raise DerivationError(f"function_name must be a Python identifier (the emitted step's name), got "
                              f"{function_name!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, got {type(title).__name__}")
    if anchor is not None and (not isinstance(anchor, str) or anchor not in ANCHORS):
        raise DerivationError(f"anchor must be None or one of blrkit.paper.ANCHORS ({', '.join(sorted(ANCHORS))}), "
                              f"got {anchor!r}")


def _with_request(d: Derivation, family, loss, prior, approx, rule) -> Derivation:
    """``d`` with the request it was derived from (what :mod:`.certify` reads: it shares nothing else)."""
    d.extra["request"] = {"family": family, "loss": loss, "prior": prior, "approximations": approx, "rule": rule,
                          "derive": derive}  # the engine, for Derivation.ladder (it cannot import this module)
    return d


def _family_object(family, key):
    """The family object (``None`` for a Gaussian key: that derivation works in general dimension D)."""
    from ..families import FAMILIES

    if not isinstance(family, str):
        return family
    if key in GAUSSIAN_KINDS:
        return None  # the Gaussian derivation works in general dimension D
    return FAMILIES[key]()


def _as_loss(key, fam, loss):
    """The loss object for ``loss`` (see :func:`derive`)."""
    import sympy as sp

    from .conjugate import CONJUGATE_PROBLEMS, Likelihood
    from .losses import ComponentLoss, GLMLoss

    if loss is None:
        if key in GAUSSIAN_KINDS:
            return OracleLoss()
        for make in CONJUGATE_PROBLEMS.values():
            f, lik = make()
            if f.key == key:
                return lik
        raise DerivationError(f"the {key} family has no default likelihood: give a loss in θ "
                              f"({', '.join(map(str, fam.theta))}) or a Likelihood")
    if isinstance(loss, Likelihood) and fam is not None:
        _no_stray_symbols(key, fam, loss.expr, {s for s, _ in loss.data})
    for expr in (getattr(loss, "expr", None), getattr(loss, "f", None)):  # every number a finite float64
        check_numbers(expr)
    if isinstance(loss, (OracleLoss, ExpressionLoss, GLMLoss, ComponentLoss, Likelihood)):
        return loss
    if isinstance(loss, str):
        raise DerivationError("give the loss as a SymPy expression (blrkit.derive.parsing.parse_expression "
                              "reads text safely), a GLMLoss, a Likelihood or an OracleLoss")
    if not isinstance(loss, sp.Basic):
        raise TypeError(f"loss must be a SymPy expression or a loss object, got {type(loss).__name__}")
    check_numbers(loss)
    if key in GAUSSIAN_KINDS:
        return component_loss(loss)
    from .conjugate import Y

    _no_stray_symbols(key, fam, loss)
    return Likelihood("loss in θ", loss) if loss.has(Y) else Likelihood("loss in θ", loss, data_free=True)


def _no_stray_symbols(key, fam, expr, known=frozenset()) -> None:
    """Refuse a loss in a symbol that is neither the family's θ, data ``y[i]`` nor a declared constant."""
    import sympy as sp

    from .conjugate import Y

    stray = {s for s in expr.free_symbols if s not in fam.theta and s not in known and not isinstance(s, sp.Idx)}
    indexed = expr.atoms(sp.Indexed)  # data: y[i] (its label y is a free symbol too)
    stray -= indexed | {x.base.label for x in indexed} | {Y}
    if stray:
        raise DerivationError(f"the loss uses {', '.join(sorted(map(str, stray)))}, which is not the {key} "
                              f"family's θ ({', '.join(map(str, fam.theta))}) nor data y[i]")


def component_loss(expr):
    """A :class:`ComponentLoss` from an expression in ``theta`` or ``theta_1, theta_2, …``."""
    import re

    import sympy as sp

    from .losses import ComponentLoss

    if not isinstance(expr, sp.Expr):
        raise TypeError(f"expr must be a SymPy expression in theta or theta_1, …, theta_D, got {type(expr).__name__}")
    names = {s.name: s for s in expr.free_symbols}
    if set(names) == {"theta"}:
        theta = (names["theta"],)
    else:
        idx = {}
        for name in names:
            match = re.fullmatch(r"theta_(\d+)", name)
            if not match or int(match.group(1)) < 1:
                raise DerivationError(f"the loss uses {name!r}, which is not a component of θ: write it in "
                                      "theta (D = 1) or theta_1, …, theta_D")
            idx[int(match.group(1))] = names[name]
        if not idx:
            raise DerivationError("the loss does not depend on θ")
        D_ = max(idx)
        theta = tuple(idx.get(i, sp.Symbol(f"theta_{i}", real=True)) for i in range(1, D_ + 1))
    real = {t: sp.Symbol(t.name, real=True) for t in theta}
    return ComponentLoss(expr.xreplace(real), tuple(real.values()))


def _known_algorithm(key, loss, prior, approx) -> tuple[str | None, str | None]:
    """The title and paper anchor of the algorithm these choices reproduce (:mod:`.known`)."""
    from .approximations import StepSize
    from .conjugate import CONJUGATE_PROBLEMS, Likelihood
    from .losses import ComponentLoss, GLMLoss

    step = next((a.value for a in approx if isinstance(a, StepSize)), None)
    if isinstance(loss, ExpressionLoss):
        kind = "linear-gaussian" if loss.kind == "linear-gaussian" else (
            "quadratic" if loss.name == "squared error" else "other")
    elif isinstance(loss, Likelihood):
        defaults = [lik for f, lik in (make() for make in CONJUGATE_PROBLEMS.values()) if f.key == key]
        kind = "default-likelihood" if defaults and loss == defaults[0] and prior is None else "other"
    else:
        kind = {OracleLoss: "oracle", GLMLoss: "glm", ComponentLoss: "component"}.get(type(loss), "other")
        if kind == "oracle" and prior is not None:
            kind = "other"
    return known_algorithm(key, kind, tuple(a.key for a in approx), step)


def _assemble_gaussian(key, f, approx, function_name, title, anchor) -> Derivation:
    from .approximations import StepSize

    update = [Equation(lhs, rhs) for lhs, rhs in f["update"]]
    fixed = key == "gaussian-fixed-covariance"
    unit = any(isinstance(a, StepSize) for a in approx)
    free = set().union(*(_names(eq.rhs) for eq in update))
    elementwise, loss = f["elementwise"], f["loss"]
    state = ["m"] + ([] if key == "gaussian-fixed-covariance" else ["s" if elementwise else "S"])
    state += [n for n in ("v", "h_avg", "g_avg") if any(getattr(eq.lhs, "name", "") == n + "_new" for eq in update)]
    mc = f.get("expectations") == "monte-carlo" and bool((_EXPECTED | _SAMPLED) & free)
    exact = f.get("expectations") in ("exact", "quadrature")
    precision = f["terms"].get("precision")  # q_t's precision in other state variables (IVON: s = N_ess(h + δ))
    state = [n for n in state if n in free or (mc or exact) and not (n == "s" and precision is not None)]
    args = [Argument(n, "matrix" if n == "S" else "vector", _STATE_DOCS[n]) for n in state]
    if not unit and "rho" in free:
        args.append(Argument("rho", "scalar", _STATE_DOCS["rho"]))
    lr_latex = f["terms"].get("lr_latex")  # IVON: α is the prior precision, the decoupled step size is η
    docs = dict(_STATE_DOCS, lr=_STATE_DOCS["lr"].replace("α", "η")) if lr_latex else _STATE_DOCS
    args += [Argument(n, "int" if n == "t" else "scalar", docs[n])
             for n in ("lr", "eps", "beta1", "weight_decay", "ess", "t") if n in free]
    for sym, doc in _data_docs(f):
        if sym.name not in free and any(sym is p for p, _ in f.get("prior_data", ())):
            continue  # a prior whose precision was renamed (IVON's α = Nδ)
        kind = "scalar" if not isinstance(sym, MatrixSymbol) else "data"
        args.append(Argument(_code_name(sym), kind, doc))
    if hasattr(loss, "code"):
        oracles = _derived_oracles(loss, free, elementwise, mc, exact, f.get("expectations") == "quadrature", fixed)
    else:
        oracles = _oracle_calls(free, elementwise, mc, fixed)
    if mc and precision is not None:
        from .printing import latex

        oracles[:0] = [f"# the precision of q_t: s_t = {latex(precision)}", f"s = {_np_code(precision)}"]
    for name in ("grad", "grad_batch", "grad_mean", "hess", "hess_diag", "grad_sums"):
        if any(re.search(rf"\b{name}\(", o) for o in oracles):
            args.append(Argument(name, "callable", _STATE_DOCS[name]))
    if "n_data" in free:
        args.append(Argument("n_data", "int", _STATE_DOCS["n_data"]))
        if not hasattr(loss, "code") and "n_batch" in free:
            args.append(Argument("n_batch", "int", _STATE_DOCS["n_batch"]))
    if mc:
        args += [Argument("n_samples", "int", _STATE_DOCS["n_samples"]), Argument("rng", "rng", _STATE_DOCS["rng"])]
    outputs = f.get("outputs") or tuple(eq.lhs for eq in reversed(update))
    notation = Notation(names=(("lr", lr_latex),)) if lr_latex else Notation()
    assignments = tuple(Assignment(eq.lhs, eq.rhs, equation_line(eq, notation)) for eq in update if eq.lhs != RHO)
    # a numeric ρ the update states first (its textbook form keeps ρ): an array of the step's dtype
    oracles += [line for eq in update if eq.lhs == RHO
                for line in (f"# {equation_line(eq)}", f"rho = xp.asarray({eq.rhs}, dtype=dtype)")]
    return Derivation(
        title=title or "Gaussian BLR step", family=key, approximations=approx, steps=tuple(f["steps"]),
        natural_update=tuple(Equation(l, r) for l, r in f["natural"]), update=tuple(update),
        anchor=anchor or "blr", function_name=function_name,
        summary=f"One BLR step: {title or 'Gaussian BLR'}.",
        arguments=tuple(args), oracles=tuple(oracles), assignments=assignments, outputs=outputs,
        dims=tuple(f["dims"].items()), elementwise=elementwise,
        notation=notation,
        extra={"terms": f["terms"], "loss": f["loss"]},
    )


def _oracle_calls(free: set, elementwise: bool, mc: bool, fixed: bool = False) -> list[str]:
    """Oracle lines of an :class:`OracleLoss`: calls of the user's ``grad``, ``hess``, … callables."""
    oracles = []
    h_name = "h" if elementwise else "H"
    gn_lines, from_terms = _gauss_newton(free, "")
    oracles += gn_lines
    if "g" in free and "g" not in from_terms:
        oracles.append("g = grad(m)")
    if "g_mean" in free:
        oracles.append("g_mean = grad_mean(m)")
    if "g_batch" in free and "g_batch" not in from_terms:
        oracles.append("g_batch = grad_batch(m)")
    if h_name in free:
        oracles.append(f"{h_name} = {'hess_diag' if elementwise else 'hess'}(m)")
    if mc:
        oracles += _monte_carlo(elementwise, "E_g" in free, ({"E_H", "E_h"} & free), free, fixed)
    return oracles


def _derived_oracles(loss, free: set, elementwise: bool, mc: bool, exact: bool, quadrature: bool = False,
                     fixed: bool = False) -> list[str]:
    """Oracle lines of a loss whose derivatives SymPy derived (GLM or component loss): the derived
    ∇ℓ, ∇²ℓ (or its diagonal, or the Gauss–Newton sum) at m, their exact Gaussian expectations, or
    Monte-Carlo averages over θ_k ~ q_t.  A minibatch is the data passed in: M = ``X.shape[-2]``."""
    lines = []
    if hasattr(loss, "label_check"):  # a label outside the loss's convention gives a wrong step: refuse it
        lines += loss.label_check()
    if "n_batch" in free:
        lines.append("n_batch = X.shape[-2]  # M, the minibatch size")
    at_mean = {q: (n, lambda e: e) for n in sorted(free) for q in ("g", "H", "h", "h_gn")
               if n in (q, q + "_batch")}
    if at_mean:
        lines += loss.code("m", at_mean, elementwise)
    expected = {q: (n, lambda e: f"xp.mean({e}, axis=0)") for n in sorted(free & _EXPECTED)
                for q in ("g", "H", "h", "h_gn") if n in ("E_" + q, "E_" + q + "_batch")}
    if expected and exact and not quadrature:
        code, _ = loss.exact_code({q: (n, lambda e: e) for q, (n, _) in expected.items()}, elementwise, fixed=fixed)
        lines += code
    elif expected and hasattr(loss, "quadrature_code") and quadrature:
        lines += loss.quadrature_code(expected, elementwise)
    elif expected:
        lines += _draws(elementwise, fixed) + loss.code("theta", expected, elementwise)
    return lines


def _draws(elementwise: bool, fixed: bool = False) -> list[str]:
    """Lines drawing θ_k ~ q_t by reparameterisation, k = 1..n_samples (q_t = N(m_t, I) for a fixed covariance)."""
    if fixed:
        return ["# θ_k = m + ε_k, ε_k ~ N(0, I), k = 1..n_samples (the covariance is held at I)",
                "eps = on_device(xp, rng.standard_normal((n_samples, *m.shape)), m)",
                "theta = m + eps"]
    if elementwise:
        return ["# θ_k = m + ε_k / √s, ε_k ~ N(0, I), k = 1..n_samples",
                "eps = on_device(xp, rng.standard_normal((n_samples, *m.shape)), m)",
                "theta = m + eps / xp.sqrt(s)"]
    return ["# θ_k = m + L^{-T} ε_k with S = L Lᵀ, ε_k ~ N(0, I), k = 1..n_samples",
            "L = xp.linalg.cholesky(S)",
            "eps = on_device(xp, rng.standard_normal((n_samples, *m.shape)), m)",
            "theta = m + xp.linalg.solve(L.mT, eps[..., None])[..., 0]"]


def _names(expr) -> set[str]:
    out = {s.name for s in expr.free_symbols if hasattr(s, "name")}
    out |= {s.name for s in expr.atoms(MatrixSymbol)}
    return out


def _data_docs(f):
    loss = f["loss"]
    out = list(getattr(loss, "data", ()))
    return list(f.get("prior_data", ())) + out


def _code_name(sym) -> str:
    from .printing import CODE_NAMES

    return CODE_NAMES.get(sym.name, sym.name)






def _monte_carlo(elementwise: bool, need_g: bool, need_h: set, free: set = frozenset(), fixed: bool = False) -> list[str]:
    """Oracle lines estimating E_q[∇ℓ], E_q[∇²ℓ] (and minibatch or Gauss-Newton terms) from
    ``n_samples`` draws θ ~ q_t."""
    lines = _draws(elementwise, fixed)
    gn_lines, from_terms = _gauss_newton(free, "E_")
    if need_g and "E_g" not in from_terms:
        lines.append("E_g = xp.mean(grad(theta), axis=0)")
    for name in sorted(need_h):
        lines.append(f"{name} = xp.mean({'hess_diag' if elementwise else 'hess'}(theta), axis=0)")
    lines += gn_lines
    if "E_g_batch" in free and "E_g_batch" not in from_terms:
        lines.append("E_g_batch = xp.mean(grad_batch(theta), axis=0)")
    if _SAMPLED & free:  # minibatch means at the samples and their products with θ_k − m (IVON)
        lines += ["# ḡ(θ_k), the mean minibatch gradient at each sample: (n_samples, ..., D)",
                  "g_theta = grad_mean(theta)",
                  "g_hat = xp.mean(g_theta, axis=0)",
                  "g_dev = xp.mean(g_theta * (theta - m), axis=0)"]
    return lines


#: Monte-Carlo averages of the mean minibatch gradient, named after the textbook rewrites of IVON
_SAMPLED = {"g_hat", "g_dev"}


def _np_code(expr) -> str:
    from .printing import MatrixCodePrinter

    return MatrixCodePrinter({}).print(expr)


def _gauss_newton(free: set, prefix: str) -> tuple[list[str], set]:
    """Oracle lines for the Gauss-Newton sums Σ_i ∇ℓ_i² (names ``h_gn``, ``h_gn_batch``) and the gradient
    Σ_i ∇ℓ_i at the same level, both from one call of ``grad_sums``: at the mean (``prefix=""``) or
    averaged over Monte-Carlo samples θ_k (``prefix="E_"``).  Returns the lines and the names they set."""
    gn = {prefix + "h_gn", prefix + "h_gn_batch"} & free
    if not gn:
        return [], set()
    grad = prefix + ("g_batch" if prefix + "h_gn_batch" in gn else "g")
    at, shape = ("theta", "(n_samples, ..., D)") if prefix else ("m", "(..., D)")
    mean = (lambda e: f"xp.mean({e}, axis=0)") if prefix else (lambda e: e)
    lines = [f"# Σ_i ∇ℓ_i and Σ_i ∇ℓ_i² (elementwise) over the minibatch at {'θ_k' if prefix else 'm'}: each {shape}",
             f"g_sum, g_sq = grad_sums({at})"]
    sets = set(gn)
    if grad in free:
        lines.append(f"{grad} = {mean('g_sum')}")
        sets.add(grad)
    lines += [f"{name} = {mean('g_sq')}" for name in sorted(gn)]
    return lines, sets
