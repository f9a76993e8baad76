r"""A Gaussian candidate's derivation as an emitted step: its arguments, the lines that evaluate the loss and
its expectations (oracle calls, SymPy's derivatives, exact moments, Gauss–Hermite quadrature or Monte Carlo),
and the assignments of the update (Khan & Rue 2023, Sec. 1.3)."""

from __future__ import annotations

import sympy as sp
from sympy import MatrixSymbol

from . import ir
from .derivation import Argument, Assignment, Derivation, Equation
from .gaussian import EXPECTATIONS as _EXPECTED
from .printing import Notation, equation_line
from .roles import Role, by_name
from .symbols import RHO

__all__ = ["assemble_gaussian"]

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


def assemble_gaussian(candidate, f, approx, function_name, title, anchor) -> Derivation:
    """The :class:`Derivation` of a Gaussian candidate from the fields :func:`.gaussian.derive_gaussian` returns:
    its arguments, the oracle lines that evaluate the loss (oracles, derived derivatives, exact moments,
    quadrature or Monte Carlo) and the assignments of the update."""
    from .approximations import StepSize

    update = [Equation(lhs, rhs) for lhs, rhs in f["update"]]
    key, fixed = candidate.key, candidate.fixed_covariance
    unit = any(isinstance(a, StepSize) for a in approx)
    free = set().union(*(_names(eq.rhs) for eq in update))
    elementwise, loss = f["elementwise"], f["loss"]
    state = ["m"] + ([] if fixed else ["s" if elementwise else "S"])
    state += [n for n in ("v", "h_avg", "g_avg") if any(getattr(eq.lhs, "name", "") == n + "_new" for eq in update)]
    mc = f.get("expectations") == "monte-carlo" and bool((_EXPECTED | _SAMPLED) & free)
    exact = f.get("expectations") in ("exact", "quadrature")
    precision = f["terms"].get(Role.PRECISION_OF_STATE)  # q_t's precision in other state variables (IVON: s = N_ess(h + δ))
    state = [n for n in state if n in free or (mc or exact) and not (n == "s" and precision is not None)]
    args = [Argument(n, "matrix" if n == "S" else "vector", _STATE_DOCS[n]) for n in state]
    if not unit and "rho" in free:
        args.append(Argument("rho", "scalar", _STATE_DOCS["rho"]))
    lr_latex = f["terms"].get(Role.LEARNING_RATE_LATEX)  # IVON: α is the prior precision, the decoupled step size is η
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

        oracles[:0] = [ir.Comment(f"the precision of q_t: s_t = {latex(precision)}"), ir.Let("s", precision, matrix=True)]
    called = ir.calls(oracles)
    for name in ("grad", "grad_batch", "grad_mean", "hess", "hess_diag", "grad_sums"):
        if name in called:
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
    oracles += [node for eq in update if eq.lhs == RHO
                for node in (ir.Comment(equation_line(eq)), ir.Constant("rho", eq.rhs))]
    return Derivation(
        title=title or "Gaussian BLR step", family=key, approximations=approx, steps=tuple(f["steps"]),
        natural_update=tuple(Equation(l, r) for l, r in f["natural"]), update=tuple(update),
        anchor=anchor or "blr", function_name=function_name,
        summary=f"One BLR step: {title or 'Gaussian BLR'}.",
        arguments=tuple(args), oracles=tuple(oracles), assignments=assignments, outputs=outputs,
        dims=tuple(f["dims"].items()), elementwise=elementwise,
        notation=notation,
        extra={"terms": by_name(f["terms"]), "roles": f["terms"], "loss": f["loss"]},
    )


def _oracle_calls(free: set, elementwise: bool, mc: bool, fixed: bool = False) -> list:
    """Oracle nodes of an :class:`OracleLoss`: calls of the user's ``grad``, ``hess``, … callables."""
    oracles = []
    h_name = "h" if elementwise else "H"
    gn_nodes, from_terms = _gauss_newton(free, "")
    oracles += gn_nodes
    if "g" in free and "g" not in from_terms:
        oracles.append(ir.OracleCall(("g",), "grad", _M))
    if "g_mean" in free:
        oracles.append(ir.OracleCall(("g_mean",), "grad_mean", _M))
    if "g_batch" in free and "g_batch" not in from_terms:
        oracles.append(ir.OracleCall(("g_batch",), "grad_batch", _M))
    if h_name in free:
        oracles.append(ir.OracleCall((h_name,), "hess_diag" if elementwise else "hess", _M))
    if mc:
        oracles += _monte_carlo(elementwise, "E_g" in free, ({"E_H", "E_h"} & free), free, fixed)
    return oracles


def _derived_oracles(loss, free: set, elementwise: bool, mc: bool, exact: bool, quadrature: bool = False,
                     fixed: bool = False) -> list:
    """Oracle nodes of a loss whose derivatives SymPy derived (GLM or component loss): the derived
    ∇ℓ, ∇²ℓ (or its diagonal, or the Gauss–Newton sum) at m, their exact Gaussian expectations, or
    Monte-Carlo averages over θ_k ~ q_t.  A minibatch is the data passed in: M = ``X.shape[-2]``."""
    lines = []
    if hasattr(loss, "label_check"):  # a label outside the loss's convention gives a wrong step: refuse it
        lines += loss.label_check()
    if "n_batch" in free:
        lines.append(ir.Count(("n_batch",), "X", (-2,), "M, the minibatch size"))
    at_mean = {q: (n, False) for n in sorted(free) for q in ("g", "H", "h", "h_gn") if n in (q, q + "_batch")}
    if at_mean:
        lines += loss.code("m", at_mean, elementwise)
    expected = {q: (n, True) for n in sorted(free & _EXPECTED)
                for q in ("g", "H", "h", "h_gn") if n in ("E_" + q, "E_" + q + "_batch")}
    if expected and exact and not quadrature:
        code, _ = loss.exact_code({q: (n, False) for q, (n, _) in expected.items()}, elementwise, fixed=fixed)
        lines += code
    elif expected and hasattr(loss, "quadrature_code") and quadrature:
        lines += loss.quadrature_code(expected, elementwise)
    elif expected:
        lines += _draws(elementwise, fixed) + loss.code("theta", expected, elementwise)
    return lines


def _draws(elementwise: bool, fixed: bool = False) -> list:
    """Nodes drawing θ_k ~ q_t by reparameterisation, k = 1..n_samples (q_t = N(m_t, I) for a fixed covariance)."""
    eps = ir.Sample("eps", "normal", "m")
    if fixed:
        return [ir.Comment("θ_k = m + ε_k, ε_k ~ N(0, I), k = 1..n_samples (the covariance is held at I)"), eps,
                ir.Reparameterise("theta", "m", "eps", "identity")]
    if elementwise:
        return [ir.Comment("θ_k = m + ε_k / √s, ε_k ~ N(0, I), k = 1..n_samples"), eps,
                ir.Reparameterise("theta", "m", "eps", "diagonal", "s")]
    return [ir.Comment("θ_k = m + L^{-T} ε_k with S = L Lᵀ, ε_k ~ N(0, I), k = 1..n_samples"),
            ir.Cholesky("L", "S"), eps, ir.Reparameterise("theta", "m", "eps", "cholesky", "L")]


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


def _monte_carlo(elementwise: bool, need_g: bool, need_h: set, free: set = frozenset(), fixed: bool = False) -> list:
    """Oracle nodes estimating E_q[∇ℓ], E_q[∇²ℓ] (and minibatch or Gauss-Newton terms) from
    ``n_samples`` draws θ ~ q_t."""
    lines = _draws(elementwise, fixed)
    gn_nodes, from_terms = _gauss_newton(free, "E_")
    if need_g and "E_g" not in from_terms:
        lines.append(ir.OracleCall(("E_g",), "grad", _THETA, average=True))
    for name in sorted(need_h):
        lines.append(ir.OracleCall((name,), "hess_diag" if elementwise else "hess", _THETA, average=True))
    lines += gn_nodes
    if "E_g_batch" in free and "E_g_batch" not in from_terms:
        lines.append(ir.OracleCall(("E_g_batch",), "grad_batch", _THETA, average=True))
    if _SAMPLED & free:  # minibatch means at the samples and their products with θ_k − m (IVON)
        lines += [ir.Comment("ḡ(θ_k), the mean minibatch gradient at each sample: (n_samples, ..., D)"),
                  ir.OracleCall(("g_theta",), "grad_mean", _THETA),
                  ir.Alias("g_hat", "g_theta", average=True),
                  ir.DeviationMean("g_dev", "g_theta", "theta", "m")]
    return lines


#: the points the oracles are called at: the mean, and the Monte-Carlo draws θ_k
_M, _THETA = sp.Symbol("m"), sp.Symbol("theta")

#: Monte-Carlo averages of the mean minibatch gradient, named after the textbook rewrites of IVON
_SAMPLED = {"g_hat", "g_dev"}


def _gauss_newton(free: set, prefix: str) -> tuple[list, set]:
    """Oracle nodes for the Gauss-Newton sums Σ_i ∇ℓ_i² (names ``h_gn``, ``h_gn_batch``) and the gradient
    Σ_i ∇ℓ_i at the same level, both from one call of ``grad_sums``: at the mean (``prefix=""``) or
    averaged over Monte-Carlo samples θ_k (``prefix="E_"``).  Returns the nodes and the names they set."""
    gn = {prefix + "h_gn", prefix + "h_gn_batch"} & free
    if not gn:
        return [], set()
    grad = prefix + ("g_batch" if prefix + "h_gn_batch" in gn else "g")
    at, shape = (_THETA, "(n_samples, ..., D)") if prefix else (_M, "(..., D)")
    lines = [ir.Comment(f"Σ_i ∇ℓ_i and Σ_i ∇ℓ_i² (elementwise) over the minibatch at {'θ_k' if prefix else 'm'}: "
                        f"each {shape}"),
             ir.OracleCall(("g_sum", "g_sq"), "grad_sums", at)]
    sets = set(gn)
    if grad in free:
        lines.append(ir.Alias(grad, "g_sum", average=bool(prefix)))
        sets.add(grad)
    lines += [ir.Alias(name, "g_sq", average=bool(prefix)) for name in sorted(gn)]
    return lines, sets
