r"""Printers: SymPy expressions of a derivation → LaTeX, and → a NumPy module.

LaTeX
    Symbols carry Python-identifier names (``E_g``, ``S_new``); :data:`LATEX_NAMES`
    maps them to the paper's notation (``\mathbb{E}_{q_t}[\nabla\ell(\theta)]``,
    ``S_{t+1}``).

NumPy
    :func:`emit_module` prints a :class:`~blrkit.derive.derivation.Derivation` as a
    module with one function.  Arrays carry leading batch dimensions: a vector is an
    array ``(..., D)``, a matrix ``(..., D, D)``, a scalar ``(...)``.  Products with an
    inverse print as ``np.linalg.solve`` (never ``inv``); transposes swap the last two
    axes; scalars broadcast with ``[..., None]``.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.matrices.expressions import (
    Identity,
    Inverse,
    MatAdd,
    MatMul,
    MatrixExpr,
    MatrixSymbol,
    Transpose,
)
from sympy.printing.latex import LatexPrinter
from sympy.printing.numpy import NumPyPrinter

#: code name -> LaTeX; names not listed print as SymPy would print them.
LATEX_NAMES: dict[str, str] = {
    "m": "m_t",
    "S": "S_t",
    "s": "s_t",
    "m_new": "m_{t+1}",
    "S_new": "S_{t+1}",
    "s_new": "s_{t+1}",
    "rho": r"\rho",
    "lam_1": r"\lambda_{1,t}",
    "lam_2": r"\lambda_{2,t}",
    "lam_1_new": r"\lambda_{1,t+1}",
    "lam_2_new": r"\lambda_{2,t+1}",
    "lam_0_1": r"\lambda_{0,1}",
    "lam_0_2": r"\lambda_{0,2}",
    "mu_1": r"\mu_{1,t}",
    "mu_2": r"\mu_{2,t}",
    "dmu_1_loss": r"\nabla_{\mu_1}\mathbb{E}_{q_t}[\ell(\theta)]",
    "dmu_2_loss": r"\nabla_{\mu_2}\mathbb{E}_{q_t}[\ell(\theta)]",
    "E_g": r"\mathbb{E}_{q_t}[\nabla\ell(\theta)]",
    "E_H": r"\mathbb{E}_{q_t}[\nabla^2\ell(\theta)]",
    "E_h": r"\mathbb{E}_{q_t}[\mathrm{diag}\,\nabla^2\ell(\theta)]",
    "E_gbar": r"\mathbb{E}_{q_t}[\nabla\bar{\ell}(\theta)]",
    "E_Hbar": r"\mathbb{E}_{q_t}[\nabla^2\bar{\ell}(\theta)]",
    "g": r"\nabla\ell(m_t)",
    "H": r"\nabla^2\ell(m_t)",
    "h": r"\mathrm{diag}\,\nabla^2\ell(m_t)",
    "g_batch": r"\hat{g}_{\mathcal{B}}(m_t)",
    "E_g_batch": r"\mathbb{E}_{q_t}[\hat{g}_{\mathcal{B}}(\theta)]",
    "h_gn": r"\left(\sum_{i=1}^{N} (\nabla\ell_i(m_t))^2\right)",
    "h_gn_batch": r"\left(\sum_{i \in \mathcal{B}} (\nabla\ell_i(m_t))^2\right)",
    "E_h_gn": r"\mathbb{E}_{q_t}[\sum_{i=1}^{N} (\nabla\ell_i(\theta))^2]",
    "E_h_gn_batch": r"\mathbb{E}_{q_t}[\sum_{i \in \mathcal{B}} (\nabla\ell_i(\theta))^2]",
    "theta": r"\theta",
    "Sigma": r"\Sigma_t",
    "m_0": "m_0",
    "S_0": "S_0",
    "alpha": r"\alpha",
    "noise_variance": r"\sigma^2",
    "sigma2": r"\sigma^2",
    "m_pred": r"\bar{m}",
    "P_pred": r"\bar{P}",
    "P": "P",
    "y": "y",
    "X": "X",
    "R": "R",
    "K": "K",
    "C": "C",
    "v": "v",
    "E_loss": r"\mathbb{E}_{q_t}[\ell(\theta)]",
    "n_data": "N",
    "n_batch": "M",
    "obs_matrix": "H",
    "P_new": "P_{t+1}",
    "m_star": "m_*",
    "S_star": "S_*",
    "g_star": r"\nabla\bar{\ell}(m_*)",
    "H_star": r"\nabla^2\bar{\ell}(m_*)",
}

#: SymPy name -> name in emitted code, where the two differ
CODE_NAMES: dict[str, str] = {"obs_matrix": "H"}


class _LatexPrinter(LatexPrinter):
    def _print_Symbol(self, expr, style="plain"):
        if expr.name in LATEX_NAMES:
            return LATEX_NAMES[expr.name]
        match = re.fullmatch(r"(dmu|lam0|lambda)_(\d+)", expr.name)
        if match:  # conjugate derivations: one symbol per natural parameter
            kind, k = match.groups()
            return {"dmu": rf"\nabla_{{\mu_{{{k}}}}}\mathbb{{E}}_{{q_t}}[\ell(\theta)]",
                    "lam0": rf"\lambda_{{0,{k}}}", "lambda": rf"\lambda_{{{k},t}}"}[kind]
        if expr.name.endswith("_new"):  # alpha_new -> \alpha_{t+1}, alpha_1_new -> \alpha_{1,t+1}
            base = super()._print_Symbol(sp.Symbol(expr.name[:-4]), style=style)
            return base[:-1] + ",t+1}" if base.endswith("}") and "_{" in base else base + "_{t+1}"
        return super()._print_Symbol(expr, style=style)

    def _print_MatAdd(self, expr):
        terms = [self._print(t) for t in expr.args]
        out = terms[0]
        for t in terms[1:]:
            out += f" - {t[1:].lstrip()}" if t.startswith("-") else f" + {t}"
        return out

    def _print_MatMul(self, expr):
        c, mats = expr.as_coeff_matrices()
        body = " ".join(self.parenthesize(m, 50) for m in mats)  # 50: precedence of MatMul
        if c == 1:
            return body
        if c == -1:
            return "- " + body
        coeff = self._print(c)
        if isinstance(c, sp.Add):
            coeff = rf"\left({coeff}\right)"
        return f"{coeff} {body}"

    def _print_MatrixSymbol(self, expr):
        if expr.name in LATEX_NAMES:
            return LATEX_NAMES[expr.name]
        return super()._print_MatrixSymbol(expr)


class ExpectedValue(sp.Function):
    r"""Unevaluated :math:`\mathbb{E}_q[f(\theta)]`, for display only."""

    def _latex(self, printer):
        return rf"\mathbb{{E}}_{{q}}[{printer._print(self.args[0])}]"


def latex(expr) -> str:
    r"""LaTeX of ``expr`` in blrkit's notation.

    >>> import sympy as sp
    >>> print(latex(sp.Symbol("m_new") - sp.Symbol("m")))
    - m_t + m_{t+1}
    """
    return _LatexPrinter({"mat_symbol_style": "plain", "inv_trig_style": "abbreviated"}).doprint(expr)


# ----------------------------------------------------------------------------- NumPy --

class _ScalarPrinter(NumPyPrinter):
    """NumPy's printer, plus sums over data: ``Σ_i f(y_i)`` → ``np.sum(f(y), axis=sum_axis)``."""

    sum_axis = -1

    def _print_Sum(self, expr):
        (body, (_, _, _)) = expr.function, expr.limits[0]
        return f"numpy.sum({self._print(body)}, axis={self.sum_axis})"

    # special functions of non-conjugate expectations (digamma, trigamma, …): SciPy's stable versions
    def _print_polygamma(self, expr):
        return f"scipy.special.polygamma({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_digamma(self, expr):
        return f"scipy.special.digamma({self._print(expr.args[0])})"

    def _print_loggamma(self, expr):
        return f"scipy.special.gammaln({self._print(expr.args[0])})"

    def _print_gamma(self, expr):
        return f"scipy.special.gamma({self._print(expr.args[0])})"

    def _print_Indexed(self, expr):
        if len(expr.indices) == 1:
            return expr.base.name
        return f"{expr.base.name}[..., {self._print(expr.indices[1])}]"


_SCALAR_PRINTER = _ScalarPrinter({"fully_qualified_modules": True, "allow_unknown_functions": False})


def _np_scalar(expr, sum_axis: int = -1) -> str:
    _SCALAR_PRINTER.sum_axis = sum_axis
    code = _SCALAR_PRINTER.doprint(expr).replace("numpy.", "np.")
    return re.sub(r"\b(\w+)\*\*\(-1\.0\)", r"(1/\1)", code)


class _Printed:
    """Printed code with its array kind: 's' scalar, 'v' vector (…, n), 'M' matrix (…, n, k)."""

    __slots__ = ("code", "kind")

    def __init__(self, code: str, kind: str):
        self.code, self.kind = code, kind


def _T(code: str) -> str:
    return f"np.swapaxes({code}, -1, -2)"


def _broadcast(scalar: str, kind: str) -> str:
    """A scalar (…) array broadcast against a vector or matrix of the given kind."""
    try:
        float(scalar)
        return scalar
    except ValueError:
        pass
    suffix = {"v": "[..., None]", "M": "[..., None, None]", "s": ""}[kind]
    return f"{_paren(scalar)}{suffix}"


class MatrixCodePrinter:
    """Print matrix expressions with leading batch dimensions.

    ``dims`` maps each dimension symbol to the code that gives its size at run time,
    e.g. ``{D: "m.shape[-1]"}``; it is needed to print identity matrices.
    """

    def __init__(self, dims: dict, sum_axis: int = -1):
        self.dims, self.sum_axis = dims, sum_axis

    def print(self, expr) -> str:
        return self._p(expr).code

    def _p(self, e) -> _Printed:
        if not isinstance(e, MatrixExpr):
            return _Printed(_np_scalar(e, self.sum_axis), "s")
        if isinstance(e, MatrixSymbol):
            return _Printed(CODE_NAMES.get(e.name, e.name), "v" if e.shape[1] == 1 else "M")
        if isinstance(e, Identity):
            return _Printed(f"np.eye({self.dims[e.shape[0]]})", "M")
        if isinstance(e, Transpose):
            inner = self._p(e.arg)
            if inner.kind != "M":
                raise NotImplementedError(f"transpose of a vector outside a product: {e}")
            return _Printed(_T(inner.code), "M")
        if isinstance(e, MatAdd):
            terms = [self._p(a) for a in e.args]
            kind = terms[0].kind
            code = " + ".join(f"({t.code})" if " " in t.code else t.code for t in terms)
            return _Printed(code.replace("+ (-", "- ("), kind)
        if isinstance(e, MatMul):
            return self._matmul(e)
        raise NotImplementedError(f"cannot print {type(e).__name__}: {e}")

    def _matmul(self, e: MatMul) -> _Printed:
        coeff, factors = e.as_coeff_matrices()
        prod = self._product(list(factors))
        if coeff == 1:
            return prod
        if coeff == -1:
            return _Printed(f"-{_paren(prod.code)}", prod.kind)
        scalar = _np_scalar(coeff) if coeff.is_Number else _broadcast(_np_scalar(coeff), prod.kind)
        return _Printed(f"{scalar} * {_paren(prod.code)}", prod.kind)

    def _product(self, factors: list) -> _Printed:
        """Left to right; ``A⁻¹ B…`` prints as ``solve(A, B…)``, ``B A⁻¹`` as ``solve(Aᵀ, Bᵀ)ᵀ``."""
        for i, f in enumerate(factors):
            if isinstance(f, Inverse):
                a = self._p(f.arg)
                if i + 1 < len(factors):
                    rest = self._product(factors[i + 1:])
                    solved = self._solve(a.code, rest)
                    return self._times(factors[:i], solved)
                left = self._product(factors[:i])
                return _Printed(_T(f"np.linalg.solve({_T(a.code)}, {_T(left.code)})"), "M")
        out = self._p(factors[0])
        for f in factors[1:]:
            out = self._mul(out, self._p(f))
        return out

    def _times(self, left_factors: list, right: _Printed) -> _Printed:
        if not left_factors:
            return right
        return self._mul(self._product(left_factors), right)

    @staticmethod
    def _solve(a: str, b: _Printed) -> _Printed:
        if b.kind == "v" and b.code.startswith("(") and b.code.endswith(")[..., 0]"):
            return _Printed(f"np.linalg.solve({a}, {b.code[1:-len(')[..., 0]')]})[..., 0]", "v")
        if b.kind == "v":
            return _Printed(f"np.linalg.solve({a}, {_paren(b.code)}[..., None])[..., 0]", "v")
        return _Printed(f"np.linalg.solve({a}, {b.code})", "M")

    @staticmethod
    def _mul(a: _Printed, b: _Printed) -> _Printed:
        if b.kind == "v":
            return _Printed(f"({_paren(a.code)} @ {_paren(b.code)}[..., None])[..., 0]", "v")
        return _Printed(f"{_paren(a.code)} @ {_paren(b.code)}", "M")


def _paren(code: str) -> str:
    """Parenthesise ``code`` unless it is atomic: a name or number followed by calls/subscripts."""
    return code if _atomic(code) else f"({code})"


def _atomic(code: str) -> bool:
    i = len(code) - len(code.lstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."))
    if i == len(code):
        return bool(code)
    while i < len(code):  # consume balanced (...) and [...] groups back to back
        if code[i] not in "([":
            return False
        depth = 0
        for j in range(i, len(code)):
            depth += code[j] in "(["
            depth -= code[j] in ")]"
            if depth == 0:
                break
        i = j + 1
    return True


# ----------------------------------------------------------------------------- module --

HEADER = '''\
# generated by blrkit.derive — do not edit.
# Regenerate with: python -m blrkit.derive.emit
# Recipe: {recipe}
# Family: {family}; approximations: {approximations}
# Source: {citation}
'''


def _comment(text: str) -> str:
    return "\n".join(f"    # {line}" for line in text.splitlines())


def emit_module(derivation, *, recipe: str | None = None) -> str:
    """The text of a NumPy module holding ``derivation``'s update step."""
    from ..paper import cite

    d = derivation
    args = ", ".join(a.name for a in d.arguments)
    approx = ", ".join(a.name for a in d.approximations) or "none"
    lines = [
        HEADER.format(recipe=recipe or d.function_name, family=d.family, approximations=approx,
                      citation=cite(d.anchor)),
        f'"""{d.title}: one step of the Bayesian learning rule (generated by blrkit.derive)."""',
        "",
        "import numpy as np",
        "",
        "",
        f"def {d.function_name}({args}):",
        _docstring(d),
        "    # -- inputs ------------------------------------------------------------",
    ]
    for a in d.arguments:
        if a.kind in ("vector", "matrix", "data"):
            lines.append(f"    {a.name} = np.asarray({a.name}, dtype=float)")
        elif a.kind == "scalar":
            suffix = "[..., None]" if d.elementwise else ""
            lines.append(f"    {a.name} = np.asarray({a.name}, dtype=float){suffix}")
    if d.oracles:
        lines.append("    # -- oracle terms ------------------------------------------------------")
        lines.extend(f"    {o}" if not o.startswith("#") else f"    {o}" for o in d.oracles)
    printer = MatrixCodePrinter(dict(d.dims), d.extra.get("sum_axis", -1))
    body = [a for a in d.assignments if a.target not in d.outputs]
    outs = [a for a in d.assignments if a.target in d.outputs]
    for title, group in (("intermediate terms", body), ("outputs", outs)):
        if not group:
            continue
        lines.append(f"    # -- {title} " + "-" * (66 - len(title)))
        for a in group:
            if a.comment:
                lines.append(_comment(a.comment))
            lines.append(f"    {_name(a.target)} = {printer.print(a.expr)}")
    lines.append(f"    return {', '.join(_name(o) for o in d.outputs)}")
    if any("scipy.special." in line for line in lines):  # stable special functions of derived losses
        lines.insert(lines.index("import numpy as np") + 1, "import scipy.special")
    return "\n".join(lines) + "\n"


def _name(sym) -> str:
    return sym.name


def _docstring(d) -> str:
    from ..paper import cite

    out = ['    r"""' + d.summary.splitlines()[0]]
    out += [f"    {line}" if line else "" for line in d.summary.splitlines()[1:]]
    out += ["", "    .. math::", ""]
    out += [f"        {eq.latex().replace('&', '')}" + (r" \\" if i + 1 < len(d.update) else "")
            for i, eq in enumerate(d.update)]
    out += ["", "    Parameters", "    ----------"]
    for a in d.arguments:
        out += [f"    {a.name} : {a.kind}", f"        {a.doc}"]
    out += ["", "    Returns", "    -------", f"    {', '.join(_name(o) for o in d.outputs)}", "",
            "    References", "    ----------", f"    {cite(d.anchor)}", '    """']
    return "\n".join(out)
