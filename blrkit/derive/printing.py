r"""Printers: SymPy expressions of a derivation → LaTeX, and → a NumPy module.

LaTeX
    Symbols carry Python-identifier names (``E_g``, ``S_new``); :data:`LATEX_NAMES`
    maps them to the paper's notation (``\mathbb{E}_{q_t}[\nabla\ell(\theta)]``,
    ``S_{t+1}``). A derivation that names further symbols (a mean-field block's
    expectations, its parameters) carries them in its own :class:`Notation`, which every
    printer takes as an argument: printers are pure functions, with no module state that
    one derivation could leave behind for the next.

NumPy
    :func:`emit_module` prints a :class:`~blrkit.derive.derivation.Derivation` as a
    module with one function.  Arrays carry leading batch dimensions: a vector is an
    array ``(..., D)``, a matrix ``(..., D, D)``, a scalar ``(...)``.  Products with an
    inverse print as ``xp.linalg.solve`` (never ``inv``); transposes are ``.mT`` (the last two
    axes); scalars broadcast with ``[..., None]``. The code is written against the Python Array
    API standard: ``xp`` is the namespace of the step's arrays (NumPy itself for NumPy arrays,
    see :mod:`blrkit._array_api`), and ``np.`` in a module means host-side NumPy (random draws,
    quadrature nodes), moved onto the arrays' device with ``on_device``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from types import MappingProxyType

import sympy as sp
from sympy.matrices.expressions import (
    Determinant,
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
from sympy.printing.pycode import PythonCodePrinter

from . import ir
from .symbols import Display

#: code name -> LaTeX, read-only; names not listed (nor in a derivation's :class:`Notation`) print as
#: SymPy would print them.
LATEX_NAMES = MappingProxyType({
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
    "g_mean": r"\bar{g}(m_t)",
    "lr": r"\alpha",
    "eps": r"\epsilon",
    "beta1": r"\beta_1",
    # a component k of a mixture (blrkit.derive.mixture)
    "m_k": "m_{k,t}", "S_k": "S_{k,t}", "m_k_new": "m_{k,t+1}", "S_k_new": "S_{k,t+1}",
    "lam_k_1": r"\lambda_{k,1,t}", "lam_k_1_new": r"\lambda_{k,1,t+1}",
    "E_g_k": r"\mathbb{E}_{q_k}[\nabla\bar\ell]", "E_H_k": r"\mathbb{E}_{q_k}[\nabla^2\bar\ell]",
    "E_loss_k": r"\mathbb{E}_{q_k}[\bar\ell]", "E_loss_K": r"\mathbb{E}_{q_K}[\bar\ell]",
    "g_k": r"\nabla\bar\ell(m_{k,t})", "H_k": r"\nabla^2\bar\ell(m_{k,t})",
    "loss_m": r"\bar\ell(m_{k,t})", "loss_m_K": r"\bar\ell(m_{K,t})",
    "E_glogq": r"\mathbb{E}_{q_k}[\nabla\log q]", "E_Hlogq": r"\mathbb{E}_{q_k}[\nabla^2\log q]",
    "E_logq": r"\mathbb{E}_{q_k}[\log q]", "E_logq_K": r"\mathbb{E}_{q_K}[\log q]",
    "E_grad_f": r"\mathbb{E}_{q_k}[\nabla f]", "E_hess_f": r"\mathbb{E}_{q_k}[\nabla^2 f]",
    "E_f": r"\mathbb{E}_{q_k}[f]", "E_f_K": r"\mathbb{E}_{q_K}[f]",
    "keep_prob": "p", "z_mask": "z", "g_masked": r"\hat{g}_{\mathcal{B}}(z \odot m_t)",
    "g_noise": r"\hat{g}_{\mathcal{B}}(z \odot (m_t + \sigma\varepsilon))", "m_tilde": r"\tilde{m}_t",
    "m_tilde_new": r"\tilde{m}_{t+1}",
    "lam": r"\lambda_t", "lam_0": r"\lambda_0", "mu_w": r"\mu", "w_tau": r"w_\tau", "g_tanh": r"\bar{g}(\tanh(\lambda_t/\tau))",
    "g_sign": r"\bar{g}(\mathrm{sign}\,\lambda_t)", "c_s": "c", "s_nonoise": r"\hat{s}_0",
    "E_sg": r"\mathbb{E}_\varepsilon[\hat s\,\nabla_w\ell(w_\tau)]",
    "E_sg_mean": r"\mathbb{E}_\varepsilon[\hat s\,\bar g(w_\tau)]",
    # EM (Sec. 5.2)
    "x_i": "x_i", "z_ik": "z_{ik}", "r_ik": "r_{ik}", "lambda_ik": r"\lambda_{ik}", "pi_k": r"\pi_{k,t}",
    "N_k": "N_k", "s_k": "s_k", "C_k": "C_k", "weights_new": r"\pi_{k,t+1}", "means_new": "m_{k,t+1}",
    "covariances_new": r"\Sigma_{k,t+1}", "precisions_new": "S_{k,t+1}", "grad_m_Q": r"\nabla_{m_k} Q",
    "grad_S_Q": r"\nabla_{S_k} Q", "log_likelihood": r"\log p(X\mid\theta_t)",
    "log_norm": r"\log Z",
    # SVI for LDA (Sec. 5.3)
    "n_dw": "n_{dw}", "z_dwk": "z_{dwk}", "log_theta_dk": r"\log\theta_{dk}", "log_beta_kw": r"\log\beta_{kw}",
    "E_log_theta_dk": r"\mathbb{E}[\log\theta_{dk}]", "E_log_beta_kw": r"\mathbb{E}[\log\beta_{kw}]",
    "phi_dwk": r"\phi_{dwk}", "log_phi_dwk": r"\log\phi_{dwk}", "doc_topic_prior": r"\alpha",
    "topic_word_prior": r"\eta", "total_docs": "D", "gamma_dk": r"\gamma_{dk}", "S_kw": "S_{kw}",
    "ell_dwk": r"\ell_{dwk}",
    "rho_pi": r"\rho_\pi", "G_hat": r"\hat{G}", "logdet_S": r"\log\det S_{k,t}", "logdet_S_K": r"\log\det S_{K,t}", "v_K": "v_K", "c_q": "c",
    "weight_decay": r"\delta",
    "ess": r"N_{\mathrm{ess}}",
    "g_hat": r"\hat{g}",
    "h_hat": r"\hat{h}",
    "g_dev": r"\overline{\hat{g}\odot(\theta - m_t)}",  # the sample mean of ĝ(θ_k) ⊙ (θ_k − m_t)
    "E_g_dev": r"\mathbb{E}_{q_t}[\nabla\ell(\theta)\odot(\theta - m_t)]",
    "E_g_dev_batch": r"\mathbb{E}_{q_t}[\hat{g}_{\mathcal{B}}(\theta)\odot(\theta - m_t)]",
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
})

#: state symbols whose LaTeX is not their name: the time subscript goes on this base
_STATE_BASES = {"g_avg": r"\tilde{g}", "h_avg": "h", "lam": r"\lambda"}

#: SymPy name -> name in emitted code, where the two differ (read-only)
CODE_NAMES = MappingProxyType({"obs_matrix": "H", "m_k": "m", "S_k": "S", "m_k_new": "m_new", "S_k_new": "S_new",
                               "v_k": "v", "v_k_new": "v_new", "g_k": "g", "H_k": "H"})


@dataclass(frozen=True)
class Notation:
    r"""How one derivation's symbols print: the notation travels with the derivation, not in module state.

    Parameters
    ----------
    names : tuple of (str, str)
        Symbol name → LaTeX for symbols the derivation introduces (a mean-field block's
        ``E_tau_1`` → :math:`\mathbb{E}[\tau]`); they take precedence over :data:`LATEX_NAMES`.
    indices : tuple of (str, (str, str))
        State name → ``(base, index)``: a mean-field block's parameter ``mu_m`` prints as
        :math:`m_{\mu,t}` (``_new`` as :math:`m_{\mu,t+1}`, ``_0`` as :math:`m_{\mu,0}`).
    states : frozenset of str
        Names of further state symbols, printed with a time subscript (``alpha`` → :math:`\alpha_t`).

    Examples
    --------
    >>> import sympy as sp
    >>> n = Notation(names=(("E_tau_1", r"\mathbb{E}[\tau]"),))
    >>> print(latex(sp.Symbol("E_tau_1"), notation=n), latex(sp.Symbol("E_tau_1")))
    \mathbb{E}[\tau] E_{\tau 1}
    """

    names: tuple = ()
    indices: tuple = ()
    states: frozenset = frozenset()

    def latex_name(self, name: str) -> str | None:
        """The LaTeX of symbol ``name``, or None when neither this notation nor :data:`LATEX_NAMES` names it."""
        return dict(self.names).get(name, LATEX_NAMES.get(name))

    def index(self, name: str) -> tuple[str, str] | None:
        """``(base, index)`` of a mean-field block's parameter ``name``, or None."""
        return dict(self.indices).get(name)

    def with_states(self, states) -> "Notation":
        """This notation with ``states`` added to its state symbols."""
        states = frozenset(states)
        return self if states <= self.states else Notation(self.names, self.indices, self.states | states)

    def merged(self, names=(), indices=()) -> "Notation":
        """This notation with further ``names`` and ``indices`` (pairs); a name given before keeps its first meaning."""
        own, idx = dict(self.names), dict(self.indices)
        for k, v in names:
            own.setdefault(k, v)
        for k, v in indices:
            idx.setdefault(k, v)
        return Notation(tuple(own.items()), tuple(idx.items()), self.states)

#: symbols that print as a state or prior (``m_t``, ``\bar m``, ``\lambda_{1,0}``): in a sum they come
#: first (``m_t - \rho\nabla\ell``, ``\bar m + K v``, ``\beta_0 + N``), as a paper writes an update
_STATE_NAMES = re.compile(r"(m|S|s|P|Sigma|m_pred|P_pred|lam_\d+|lambda_\d+|lam_0_\d+|lam0_\d+|.+_0)")

#: symbols that scale a term (step size, counts): printed first in a product (``\rho \nabla\ell``)
_SCALE_NAMES = frozenset({"rho", "n_data", "n_batch", "N", "M"})


def _is_rho(sym) -> bool:
    return isinstance(sym, sp.Symbol) and sym.name == "rho"


def _sym_name(sym) -> str:
    return getattr(sym, "name", "")


def _negative(coeff) -> bool:
    """Whether a term or coefficient prints with a leading minus: ``-ρ``, ``-N/2``, not ``1 - ρ``."""
    return bool(sp.sympify(coeff).as_coeff_Mul()[0].is_negative)


def _is_scale(factor) -> bool:
    """A number, or a power of a step size or count (ρ, N, M)."""
    return factor.is_Number or _sym_name(factor.as_base_exp()[0]) in _SCALE_NAMES


class _Term:
    """One printed term of a sum: its sign and the text of its absolute value."""

    __slots__ = ("negative", "text", "expr")

    def __init__(self, negative: bool, text: str, expr=None):
        self.negative, self.text, self.expr = negative, text, expr


def _join(terms: list) -> str:
    out = ("- " if terms[0].negative else "") + terms[0].text
    for t in terms[1:]:
        out += (" - " if t.negative else " + ") + t.text
    return out


class Estimate(Display):
    r"""A display symbol for a quantity the emitted step estimates (a Monte-Carlo expectation
    :math:`\mathbb{E}_{q_t}[f(\theta)]`): in a sum it prints after the closed-form terms."""


class _SumOrder:
    """How sums print, for the LaTeX printer and through it the plain-text printer.

    * an update affine in ρ whose ρ-part shrinks when written as a convex combination prints as
      ``(1 - ρ) f(0) + ρ f(1)`` (``S_{t+1} = (1-\\rho) S_t + \\rho\\nabla^2\\ell(m_t)``);
    * otherwise positive terms come first, and among them states and priors
      (``y - d - H\\bar m``, ``m_t - \\rho S_{t+1}^{-1}\\nabla\\ell(m_t)``, ``\\bar m + K v``).

    ``states`` names extra symbols that are the state of the update (a conjugate family's
    standard parameters, e.g. ``alpha``): they print with a time subscript and sort first.
    """

    states: frozenset = frozenset()

    # -- which terms are states ---------------------------------------------------------
    def _is_state_symbol(self, e) -> bool:
        while isinstance(e, (Inverse, Transpose)) or (isinstance(e, sp.Pow) and e.exp.is_Number):
            e = e.args[0]
        name = _sym_name(e)
        return bool(name) and (name in self.states or bool(_STATE_NAMES.fullmatch(name)))

    def _is_state_term(self, rest) -> bool:
        factors = rest.args if isinstance(rest, (MatMul, sp.Mul)) else (rest,)
        named = [f for f in factors  # (1 - ρ), N/M scale a state, they are not one
                 if not all(_sym_name(x) in _SCALE_NAMES for x in getattr(f, "free_symbols", ()))]
        return bool(named) and all(self._is_state_symbol(f) for f in named)

    @staticmethod
    def _split(term):
        """``term`` = coefficient × rest; the coefficient is a scalar (numeric for scalar terms)."""
        if isinstance(term, MatMul):
            c, mats = term.as_coeff_matrices()
            return c, (mats[0] if len(mats) == 1 else MatMul(*mats))
        if isinstance(term, MatrixExpr):
            return sp.S.One, term
        return term.as_coeff_Mul()

    def _ordered(self, terms: list) -> list:
        """Closed-form terms before estimated ones (:class:`Estimate`); positive terms first, states first among
        them; otherwise SymPy's order."""
        def key(item):
            i, t = item
            c, rest = self._split(t)
            return (isinstance(rest, Estimate), _negative(c), not self._is_state_term(rest), i)
        return [t for _, t in sorted(enumerate(terms), key=key)]

    # -- (1 - ρ) x + ρ (…) ------------------------------------------------------------------
    def _rho_split(self, expr):
        """``(rho, f(0) terms, f(1) terms)`` when ``expr`` is affine in ρ and reads better as
        ``(1-ρ) f(0) + ρ f(1)`` (fewer terms under ρ), else ``None``."""
        rho = next((s for s in expr.free_symbols if _is_rho(s)), None)
        if rho is None:
            return None
        if isinstance(expr, MatrixExpr):
            pieces = []
            for t in expr.args:
                c, rest = self._split(t)
                pieces.append((sp.expand(c), rest))
        else:
            pieces = []
            for t in sp.Add.make_args(sp.expand(expr)):
                rest, c = t.as_independent(rho, as_Add=False)
                scale = [f for f in sp.Mul.make_args(rest) if _is_scale(f)]
                pieces.append((sp.Mul(*scale) * c, rest / sp.Mul(*scale)))
        a: dict = {}
        b: dict = {}
        for c, rest in pieces:
            if rest.has(rho):
                return None
            try:
                poly = sp.Poly(c, rho)
            except sp.PolynomialError:
                return None
            if poly.degree() > 1:
                return None
            a[rest] = a.get(rest, 0) + poly.coeff_monomial(1)
            b[rest] = b.get(rest, 0) + poly.coeff_monomial(rho)
        f0 = [(sp.expand(a[r]), r) for r in a if sp.expand(a[r]) != 0]
        f1 = [(sp.expand(a[r] + b[r]), r) for r in a if sp.expand(a[r] + b[r]) != 0]
        under_rho = sum(1 for r in b if sp.expand(b[r]) != 0)
        if not f0 or not f1 or len(f1) >= under_rho:
            return None
        return rho, f0, f1

    def _scaled(self, factor, pieces) -> _Term:
        """``factor × Σ c·x`` as one term: a common coefficient is pulled out of the sum."""
        coeffs = [c for c, _ in pieces]
        c0 = coeffs[0]
        if all(c == c0 for c in coeffs):
            common = c0
        elif all(c in (c0, -c0) for c in coeffs):  # N/M and -N/M: pull N/M
            common = -c0 if _negative(c0) else c0
        else:  # the numbers they share: -ρ/2 (E_H + α I)
            numbers = {c.as_coeff_Mul()[0] for c in coeffs}
            common = numbers.pop() if len(numbers) == 1 else sp.S.One
            if common == 1 and all(_negative(c) for c in coeffs):
                common = sp.S.NegativeOne
        pieces = sorted(pieces, key=lambda p: (_negative(p[0] / common), not self._is_state_term(p[1])))
        inner = [self._mul_terms(c / common, x) for c, x in pieces]
        negative = _negative(common)
        ctext = self._coefficient(-common if negative else common, factor)
        if len(inner) == 1:
            body = inner[0]
            btext = self._group(_join([body])) if body.negative else body.text
            if self._needs_group(body.expr):
                btext = self._group(btext)
        else:
            btext = self._group(_join(inner))
        return _Term(negative, f"{ctext} {btext}")

    def _coefficient(self, common, factor) -> str:
        r"""``common × factor`` where ``factor`` is ρ or 1 - ρ: ``\frac{1 - \rho}{2}``, ``\frac{\rho}{2}``."""
        if not isinstance(factor, sp.Add):
            return self._print(common * factor)
        ftext = self._print(factor)
        if common == 1:
            return f"({ftext})"
        if common.is_Rational:
            num = ftext if common.p == 1 else f"{common.p} ({ftext})"
            return self._fraction(num, str(common.q))
        return f"{self._print(common)} ({ftext})"

    def _mul_terms(self, c, x) -> _Term:
        if isinstance(x, MatrixExpr):
            t = self._term(MatMul(c, *(x.args if isinstance(x, MatMul) else (x,))) if c != 1 else x)
        else:
            t = self._term(c * x)
        t.expr = x
        return t

    @staticmethod
    def _needs_group(x) -> bool:
        return isinstance(x, (sp.Add, MatAdd))

    def _term(self, t) -> _Term:
        if isinstance(t, MatMul):
            c, mats = t.as_coeff_matrices()
            if _negative(c):
                return _Term(True, self._print(MatMul(-c, *mats) if -c != 1 else MatMul(*mats)))
            return _Term(False, self._print(t))
        if isinstance(t, MatrixExpr):
            return _Term(False, self._print(t))
        if _negative(t):
            return _Term(True, self._print(-t), -t)
        return _Term(False, self._print(t), t)

    def opened(self, term):
        """``(prefix, [inner terms], suffix)`` for a scalar term ``c·(a + b + …)/d``, else ``None``."""
        if not isinstance(term, sp.Mul):
            return None
        num, den = sp.fraction(term)
        sums = [f for f in sp.Mul.make_args(num) if isinstance(f, sp.Add)]
        if len(sums) != 1:
            return None
        outside = sp.Mul(*[f for f in sp.Mul.make_args(num) if f is not sums[0]])
        if den != 1:
            inverse = sp.Pow(sp.factor_terms(den), -1, evaluate=False)
            outside = inverse if outside == 1 else sp.Mul(outside, inverse, evaluate=False)
        inner = [("- " if x.negative else ("+ " if i else "")) + x.text
                 for i, x in enumerate(self.add_terms(sums[0]))]
        return f"{self._print(outside)} \\Bigl(", inner, "\\Bigr)"

    def add_terms(self, expr) -> list:
        """The printed terms of a sum, in the order a paper writes them."""
        split = self._rho_split(expr)
        if split is not None:
            rho, f0, f1 = split
            return [self._scaled(1 - rho, f0), self._scaled(rho, f1)]
        args = list(expr.args) if isinstance(expr, MatAdd) else list(self._as_ordered_terms(expr))
        return [self._term(t) for t in self._ordered(args)]


#: orders the terms of a sum for the code printers, as the LaTeX printer does
_ORDER = _SumOrder()


def _upright(tex: str) -> str:
    r"""A symbol's name of several letters set upright, as a word (``\mathrm{rate}_{t}``), not as the italic product
    r·a·t·e; a one-letter or Greek name (``m_{t}``, ``\kappa``) is left as it is.

    >>> _upright("rate_{0}"), _upright("m_{t}"), _upright(r"\kappa")
    ('\\mathrm{rate}_{0}', 'm_{t}', '\\kappa')
    """
    return re.sub(r"^([A-Za-z]{2,})(?=$|_|\^)", r"\\mathrm{\1}", tex)


class _LatexPrinter(_SumOrder, LatexPrinter):
    def _print_loggamma(self, expr):  # log Γ(x), not the function name loggamma
        return rf"\log\Gamma\left({self._print(expr.args[0])}\right)"

    def _print_polygamma(self, expr):  # ψ, ψ′, ψ⁽ⁿ⁾ as papers write them
        n, x = expr.args
        mark = {0: "", 1: "'", 2: "''"}.get(int(n), f"^{{({n})}}") if n.is_Integer else f"^{{({self._print(n)})}}"
        return rf"\psi{mark}\left({self._print(x)}\right)"

    def _print_digamma(self, expr):
        return rf"\psi\left({self._print(expr.args[0])}\right)"

    def __init__(self, settings=None, notation: Notation = Notation()):
        super().__init__(settings)
        self.notation = notation
        self.states = notation.states

    def _group(self, text: str) -> str:
        return rf"\left({text}\right)"

    @staticmethod
    def _fraction(num: str, den: str) -> str:
        return rf"\frac{{{num}}}{{{den}}}"

    def _print_Symbol(self, expr, style="plain"):
        name = expr.name
        if name in self.states:  # alpha -> \alpha_t, alpha_1 -> \alpha_{1,t}
            return self._subscripted(name, "t", style)
        known = self.notation.latex_name(name)
        if known is not None:
            return known
        match = re.fullmatch(r"(dmu|lam0|lambda|mu)_(\d+)", name)
        if match:  # conjugate derivations: one symbol per natural parameter
            kind, k = match.groups()
            return {"dmu": rf"\nabla_{{\mu_{k}}}\mathbb{{E}}_{{q_t}}[\ell(\theta)]",
                    "lam0": rf"\lambda_{{0,{k}}}", "lambda": rf"\lambda_{{{k},t}}",
                    "mu": rf"\mu_{{{k},t}}"}[kind]
        if name.endswith("_new"):  # alpha_new -> \alpha_{t+1}, alpha_1_new -> \alpha_{1,t+1}
            return self._subscripted(name[:-4], "t+1", style)
        match = re.fullmatch(r"(.+)_(\d+)_0", name)
        if match:  # alpha_1_0 -> \alpha_{1,0}
            return self._subscripted(match.group(1) + "_" + match.group(2), "0", style)
        if name.endswith("_0") and self.notation.index(name[:-2]) is not None:  # a mean-field block's prior: \alpha_{\tau,0}
            return self._subscripted(name[:-2], "0", style)
        return _upright(super()._print_Symbol(expr, style=style))

    def _subscripted(self, name: str, sub: str, style) -> str:
        indexed = self.notation.index(name)
        if indexed is not None:  # a mean-field block's parameter: m_{\mu,t}
            base, index = indexed
            return f"{base}_{{{index},{sub}}}"
        if name in _STATE_BASES:
            return f"{_STATE_BASES[name]}_{{{sub}}}"
        base = _upright(super()._print_Symbol(sp.Symbol(name), style=style))
        if base.endswith("}") and "_{" in base:
            return base[:-1] + f",{sub}}}"
        return base + (f"_{sub}" if len(sub) == 1 else f"_{{{sub}}}")

    def _print_Indexed(self, expr):
        return f"{self._print(expr.base.label)}_{{{','.join(self._print(i) for i in expr.indices)}}}"

    def _print_Add(self, expr, order=None):
        return _join(self.add_terms(expr))

    def _print_MatAdd(self, expr):
        return _join(self.add_terms(expr))

    def _print_Mul(self, expr):
        """Scale factors first: ``\\rho \\nabla\\ell(m_t)``, ``\\frac{N \\rho}{M} \\hat g``."""
        if not isinstance(expr, sp.Mul):  # a power SymPy prints as a product
            return super()._print_Mul(expr)
        if expr.could_extract_minus_sign():
            return "- " + self._print(-expr)
        scale = [f for f in expr.args if _is_scale(f)]
        rest = [f for f in expr.args if f not in scale]
        numer, denom = sp.fraction(sp.Mul(*rest))
        if not scale or not rest or numer == 1 or (all(f.is_Number for f in scale) and denom != 1):
            return super()._print_Mul(expr)  # N/σ², 3/(2 s): one fraction
        coeff, body = sp.Mul(*scale), sp.Mul(*rest)
        if coeff == 1:
            return self._print(body)
        return f"{super()._print_Mul(coeff) if isinstance(coeff, sp.Mul) else self._print(coeff)} " \
               f"{self.parenthesize(body, 50) if isinstance(body, sp.Add) else self._print(body)}"

    def _print_MatMul(self, expr):
        c, mats = expr.as_coeff_matrices()
        printed = []
        for i, m in enumerate(mats):
            earlier = [j for j in range(i) if isinstance(mats[j], MatAdd)
                       and isinstance(m, MatAdd) and Transpose(mats[j]).doit() == m]
            if earlier:  # (I - K H) \bar P (I - K H)^\top
                printed.append(self._group(self._print(mats[earlier[0]])) + r"^\top")
            else:
                printed.append(self.parenthesize(m, 50))  # 50: precedence of MatMul
        body = " ".join(printed)
        if c == 1:
            return body
        if c == -1:
            return "- " + body
        coeff = self._print(c)
        if isinstance(c, sp.Add):
            coeff = self._group(coeff)
        return f"{coeff} {body}"

    def _print_Transpose(self, expr):
        return f"{self.parenthesize(expr.arg, 60)}^\\top"  # 60: above MatMul, as a power

    def _print_Identity(self, expr):
        return "I"

    def _print_MatrixSymbol(self, expr):
        known = self.notation.latex_name(expr.name)
        if known is not None:
            return known
        return super()._print_MatrixSymbol(expr)


class ExpectedValue(sp.Function):
    r"""Unevaluated :math:`\mathbb{E}_q[f(\theta)]`, for display only."""

    def _latex(self, printer):
        return rf"\mathbb{{E}}_{{q}}[{printer._print(self.args[0])}]"


_SETTINGS = {"mat_symbol_style": "plain", "inv_trig_style": "abbreviated"}


def latex(expr, *, states=(), notation: Notation = Notation()) -> str:
    r"""LaTeX of ``expr`` in blrkit's notation, its terms in the order a paper writes them.

    Parameters
    ----------
    expr : sympy.Basic
        A scalar or matrix expression.
    states : iterable of str, optional
        Names of further state symbols (a conjugate family's standard parameters), printed
        with a time subscript (``alpha`` → ``\alpha_t``) and first in a sum.
    notation : Notation, optional
        The derivation's own names for its symbols (see :class:`Notation`).

    Examples
    --------
    >>> import sympy as sp
    >>> print(latex(sp.Symbol("m_new") - sp.Symbol("m")))
    m_{t+1} - m_t
    >>> rho, S, H = sp.Symbol("rho"), sp.Symbol("S"), sp.Symbol("H")
    >>> print(latex(rho * H + (1 - rho) * S))
    (1 - \rho) S_t + \rho \nabla^2\ell(m_t)
    >>> print(latex(sp.Symbol("alpha") + 1, states=["alpha"]))
    \alpha_t + 1
    """
    return _LatexPrinter(_SETTINGS, notation.with_states(states)).doprint(expr)


def latex_terms(expr, *, states=(), notation: Notation = Notation()) -> list[str]:
    """The terms of ``expr`` as printed by :func:`latex`, each with its sign (``"- x"``, ``"+ y"``).

    Parameters
    ----------
    expr : sympy.Basic
        A scalar or matrix expression; anything but a sum is one term.
    states, notation : optional
        As for :func:`latex`.

    Returns
    -------
    list of str
        The terms in printed order; the first carries no ``+``.

    Examples
    --------
    >>> import sympy as sp
    >>> latex_terms(sp.Symbol("y") - sp.Symbol("d"))
    ['y', '- d']
    """
    printer = _LatexPrinter(_SETTINGS, notation.with_states(states))
    if not isinstance(expr, (sp.Add, MatAdd)):
        return [printer.doprint(expr)]
    terms = printer.add_terms(expr)
    return [("- " if t.negative else ("+ " if i else "")) + t.text for i, t in enumerate(terms)]


def latex_rows(expr, width: int, *, indent: int = 0, states=(), notation: Notation = Notation()) -> list[str]:
    r"""``expr`` broken between terms into rows of at most ``width`` printed characters.

    Rows after the first get ``indent`` characters less.  A term too long for a row whose
    numerator is a sum (``\frac{a + b + …}{c}``) opens as ``\frac{1}{c} \Bigl(a`` and
    continues its sum on the next rows up to ``\Bigr)``: ``\Bigl``/``\Bigr`` (not
    ``\left``/``\right``) may stand on different rows of an ``align*``.  Widths are counted
    in the characters of :func:`unicode_text`, a fair proxy for printed width.

    Parameters
    ----------
    expr : sympy.Basic
        The right-hand side of an equation.
    width : int
        Printed characters a row may hold.
    indent : int, optional
        How much narrower the continuation rows are (they start with ``\quad``).
    states, notation : optional
        As for :func:`latex`.

    Returns
    -------
    list of str
        The rows, each but the first starting with its sign; joined by
        ``\\ &\quad`` they give the rows of an ``align*``.

    Examples
    --------
    >>> import sympy as sp
    >>> a, b, c = sp.symbols("a b c")
    >>> latex_rows(a + b + c, 6)
    ['a + b', '+ c']
    """
    printer = _LatexPrinter(_SETTINGS, notation.with_states(states))
    if not isinstance(expr, (sp.Add, MatAdd)):
        return [printer.doprint(expr)]
    pieces = []
    for i, t in enumerate(printer.add_terms(expr)):
        sign = "- " if t.negative else ("+ " if i else "")
        opened = printer.opened(t.expr) if t.expr is not None and _width(t.text) > width else None
        if opened is None:
            pieces.append(sign + t.text)
            continue
        prefix, inner, suffix = opened
        pieces.append(f"{sign}{prefix}{inner[0]}")
        pieces.extend(inner[1:-1])
        pieces.append(f"{inner[-1]}{suffix}" if len(inner) > 1 else pieces.pop() + suffix)
    rows, row, budget = [], pieces[0], width
    for piece in pieces[1:]:
        if _width(f"{row} {piece}") > budget:
            rows.append(row)
            row, budget = piece, width - indent
        else:
            row += f" {piece}"
    rows.append(row)
    return rows


def _width(tex: str) -> int:
    return len(unicode_text(tex))


# ----------------------------------------------------------------------------- text --

_SUB = dict(zip("0123456789+-=()aeijklmnoprstuvx,", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ,"))
_SUP = dict(zip("0123456789+-=()inNTDKMᵀ", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿᴺᵀᴰᴷᴹᵀ"))
_SYMBOLS = {
    "theta": "θ", "lambda": "λ", "mu": "μ", "rho": "ρ", "nabla": "∇", "ell": "ℓ", "alpha": "α",
    "beta": "β", "kappa": "κ", "sigma": "σ", "tau": "τ", "pi": "π", "eta": "η", "gamma": "γ",
    "delta": "δ", "epsilon": "ε", "phi": "φ", "psi": "ψ", "omega": "ω", "Sigma": "Σ", "Gamma": "Γ",
    "sum": "Σ", "approx": "≈", "in": "∈", "top": "ᵀ", "infty": "∞", "cdot": "·", "times": "×",
    "odot": "⊙", "oslash": "⊘", "sim": "~", "varepsilon": "ε", "pm": "±", "operatorname": "", "le": "≤", "ge": "≥", "leq": "≤", "geq": "≥", "propto": "∝", "partial": "∂", "to": "→",
    "mid": "|", "quad": " ", "qquad": "  ", ",": " ", ";": " ", ":": " ", "!": "", " ": " ",
    "{": "{", "}": "}", "|": "‖", "%": "%", "&": "&", "#": "#", "_": "_",
    "left": "", "right": "", "bigl": "", "bigr": "", "Bigl": "", "Bigr": "", "big": "", "Big": "",
    "varphi": "φ", "vartheta": "ϑ", "varrho": "ϱ", "varsigma": "ς", "nu": "ν", "xi": "ξ", "zeta": "ζ", "chi": "χ",
    "iota": "ι", "upsilon": "υ", "Phi": "Φ", "Psi": "Ψ", "Delta": "Δ", "Lambda": "Λ", "Omega": "Ω", "Pi": "Π",
    "Theta": "Θ", "Xi": "Ξ", "prod": "∏", "setminus": "∖", "langle": "⟨", "rangle": "⟩", "gets": "←",
    "leftarrow": "←", "rightarrow": "→", "mapsto": "↦", "neq": "≠", "ne": "≠", "forall": "∀", "cdots": "⋯",
    "ldots": "…", "dots": "…", "star": "⋆", "ast": "∗", "circ": "∘", "otimes": "⊗", "lVert": "‖", "rVert": "‖",
    "lvert": "|", "rvert": "|", "colon": ":", "qquad": "  ", "displaystyle": "", "textstyle": "",
}
#: sizing commands before a delimiter: an operator before them needs no space (``\log\left(x\right)``)
_DELIMITERS = frozenset({"left", "bigl", "Bigl", "big", "Big", ""})
_ACCENTS = {"bar": "\u0304", "hat": "\u0302", "tilde": "\u0303", "dot": "\u0307", "vec": "\u20d7"}
_FONTS = {"mathbb", "mathcal", "mathrm", "mathbf", "mathit", "text", "textrm", "textit", "textbf",
          "operatorname", "boldsymbol", "mbox", "texttt", "mathsf", "mathtt", "mathscr", "mathfrak"}


def unicode_text(tex: str) -> str:
    r"""LaTeX (maths, or text with ``$…$`` maths) → readable Unicode for a terminal.

    Greek letters and operators become their characters, ``\bar m`` becomes m̄, simple
    sub- and superscripts become Unicode ones (``m_{t+1}`` → mₜ₊₁, ``S^{-1}`` → S⁻¹,
    ``X^\top`` → Xᵀ), fractions become ``a/b`` (numbers too: ``1/4``); no backslash or brace is left.

    Parameters
    ----------
    tex : str
        LaTeX as blrkit prints it: an expression from :func:`latex`, or a step's justification.

    Returns
    -------
    str

    Examples
    --------
    >>> unicode_text(r"\lambda_{1,t+1} = (1 - \rho) S_t m_t + \frac{\rho}{2} \bar{P}^{-1}")
    'λ₁,ₜ₊₁ = (1 - ρ) Sₜ mₜ + ρ/2 P̄⁻¹'
    >>> unicode_text(r"$\sum_{i=1}^{N} y_{i}$ and $\tfrac12 \mathcal{N}(m, I)$")
    'Σᵢ₌₁ᴺ yᵢ and 1/2 N(m, I)'
    """
    return _Unicode(tex).run()


class _Unicode:
    """A small recursive reader of the LaTeX that blrkit prints."""

    def __init__(self, tex: str):
        self.s, self.i = tex, 0

    def run(self) -> str:
        out = re.sub(r" {2,}", " ", self.until(None))
        return unicodedata.normalize("NFC", re.sub(r"\( ", "(", re.sub(r" \)", ")", out)).strip())

    def until(self, stop) -> str:
        out = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == stop:
                self.i += 1
                break
            out.append(self.token())
        return "".join(out)

    def group(self) -> str:
        """The next argument: ``{…}``, a command, or one character."""
        while self.i < len(self.s) and self.s[self.i] == " ":
            self.i += 1
        if self.i >= len(self.s):
            return ""
        if self.s[self.i] == "{":
            self.i += 1
            return self.until("}")
        return self.token()

    def token(self) -> str:
        c = self.s[self.i]
        self.i += 1
        if c == "$":
            return ""
        if c == "{":
            return self.until("}")
        if c == "}":
            return ""
        if c == "~":
            return " "
        if c in "_^":
            text = self.script(c, self.group())
            following = self.s[self.i:self.i + 1]
            fallback = text[:1] in "_^" and len(text) > 1  # no Unicode sub/superscript: ∇_μ₁ E_qₜ
            return text + " " if fallback and (following.isalpha() or following == "\\") else text
        if c != "\\":
            return c
        match = re.match(r"[A-Za-z]+|.", self.s[self.i:])
        name = match.group(0) if match else ""
        self.i += len(name)
        if name in ("frac", "tfrac", "dfrac"):
            num, den = self.group(), self.group()
            text = f"{_wrap(num)}/{_wrap(den)}"  # a number stays a plain number: 1/4, not ¼
            following = self.s[self.i:self.i + 1]
            return text + " " if following.isalnum() or following == "\\" else text
        if name in _ACCENTS:
            arg = self.group()
            return arg[:1] + _ACCENTS[name] + arg[1:] if len(arg) == 1 else f"{arg}{_ACCENTS[name]}"
        if name in _FONTS:
            return self.group()
        if name == "overline":  # a sample mean: mean(…)
            return f"mean({self.group()})"
        if name == "sqrt":  # √x, √(a + b)
            arg = self.group().strip()
            return "√" + (arg if re.fullmatch(r"\w[\w\u0300-\u036f\u2080-\u209c\u1d62-\u1d6a\u2c7c]*", arg)
                          else f"({arg})")
        if name in ("intertext", "displaybreak"):
            return ""
        if name in _SYMBOLS:
            return _SYMBOLS[name]
        following = re.match(r"\\?[A-Za-z]*", self.s[self.i:]).group(0)
        if name.isalpha() and following and following.lstrip("\\") not in _DELIMITERS:
            return name + " "  # \log\det S: log det S, not logdet S
        return name

    @staticmethod
    def script(kind: str, arg: str) -> str:
        table = _SUB if kind == "_" else _SUP
        arg = arg.strip()
        if kind == "^" and arg == "ᵀ":
            return "ᵀ"
        if arg and all(ch in table for ch in arg.replace(" ", "")):
            return "".join(table[ch] for ch in arg.replace(" ", ""))
        if re.fullmatch(r"\S[\u0300-\u036f\u2080-\u209c\u1d62-\u1d6a\u2c7c]*", arg) or (
                " " not in arg and len(arg) <= 3 and not re.search(r"[,_^]", arg) and not arg.startswith("-")):
            return kind + arg  # one symbol (μ₁, qₜ) or a short word: ∇_μ₁, E_qₜ
        arg = re.sub(r"^- ", "-", arg)  # a leading minus is unary: e^(-θ), as in a right-hand side
        return f"{kind}({arg})"  # S_(K,t), E_(q_K): a script of several symbols in parentheses


def _wrap(text: str) -> str:
    """``text`` as an operand of ``/``: parenthesised unless it is one word (``ĝ_B(mₜ)``, ``sₜ₊₁``)."""
    text = text.strip()
    return text if re.fullmatch(r"[^\s+\-/*]+", text) else f"({text})"


# ----------------------------------------------------------------------------- NumPy --

class _ScalarPrinter(NumPyPrinter):
    """NumPy's printer, plus sums over data: ``Σ_i f(y_i)`` → ``xp.sum(f(y), axis=sum_axis)``."""

    #: ``sum_axis``: the data axis of ``Σ_i``. ``scale_first``: print a product's numbers and step-size/count
    #: symbols (ρ, N, M) first, grouped: ``(n_data*rho/n_batch)*g`` costs one array operation where
    #: ``g*n_data*rho/n_batch`` costs three (elementwise steps on small arrays). ``scalars``: names of the step's
    #: scalar arguments, which may arrive as Python floats: a square root of them alone prints as ``(…)**0.5``,
    #: since ``xp.sqrt`` takes arrays only (Adam's bias correction √(1 − (1 − ρ)ᵗ)).
    def __init__(self, sum_axis: int = -1, scale_first: bool = False, scalars: frozenset = frozenset()):
        super().__init__({"fully_qualified_modules": True, "allow_unknown_functions": False})
        self.sum_axis, self.scale_first, self.scalars = sum_axis, scale_first, scalars

    def _print_Mul(self, expr):
        if self.scale_first:
            scale = [f for f in expr.args if _is_scale(f)]
            rest = [f for f in expr.args if not _is_scale(f)]
            if rest and scale and not all(f.is_Number for f in scale):
                head = super()._print_Mul(sp.Mul(*scale, evaluate=False)) if len(scale) > 1 else self._print(scale[0])
                tail = self._print(sp.Mul(*rest, evaluate=False)) if len(rest) > 1 else self._print(rest[0])
                if len(rest) == 1 and isinstance(rest[0], sp.Add):
                    tail = f"({tail})"
                return f"{head}*{tail}" if re.fullmatch(r"[\w.]+", head) else f"({head})*{tail}"
        return super()._print_Mul(expr)

    def _print_Add(self, expr, order=None):
        """Terms in the order a paper writes them (``alpha_0 + N/2``, ``y - d``), as in LaTeX."""
        terms = _ORDER._ordered(list(self._as_ordered_terms(expr, order=order)))
        out = []
        for t in terms:
            negative = _negative(t)
            code = self._print(-t if negative else t)
            if isinstance(-t if negative else t, sp.Add) or (out and negative and code.startswith("-")):
                code = f"({code})"
            out.append(("-" if negative else "+", code))
        text = ("-" if out[0][0] == "-" else "") + out[0][1]
        for sign, code in out[1:]:
            text += f" {sign} {code}"
        return text

    def _print_Pow(self, expr, rational=False):
        names = {s.name for s in expr.base.free_symbols}
        if expr.exp == sp.S.Half and names and names <= self.scalars:
            return f"({self._print(expr.base)})**0.5"
        return super()._print_Pow(expr, rational=rational)

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


_MATH_PRINTER = PythonCodePrinter({"fully_qualified_modules": True})


def equation_line(eq, notation: Notation = Notation()) -> str:
    r"""``lhs = rhs`` of an equation in LaTeX (in a derivation's ``notation``): a comment above a line of emitted code.

    >>> import sympy as sp
    >>> from blrkit.derive.derivation import Equation
    >>> print(equation_line(Equation(sp.Symbol("S_new"), sp.Symbol("S") + sp.Symbol("H"))))
    S_{t+1} = S_t + \nabla^2\ell(m_t)
    """
    return f"{latex(eq.lhs, notation=notation)} = {latex(eq.rhs, notation=notation)}"


def scalar_code(expr, sum_axis: int = -1, scale_first: bool = False, scalars: frozenset = frozenset()) -> str:
    """The array code of a scalar SymPy expression (``xp.`` functions, Python floats for numbers alone)."""
    renamed = {x: sp.Symbol(CODE_NAMES[x.name], **x.assumptions0) for x in getattr(expr, "free_symbols", ())
               if isinstance(x, sp.Symbol) and x.name in CODE_NAMES}
    expr = expr.xreplace(renamed) if renamed else expr
    # a function of numbers alone (log 2π) is a Python float, from math: xp.log needs an array
    numeric = {f: sp.Symbol(f"_numeric_{i}") for i, f in enumerate(sorted(getattr(expr, "atoms", lambda *_: ())(
        sp.Function), key=str)) if not f.free_symbols}
    printer = _ScalarPrinter(sum_axis, scale_first, scalars)
    code = printer.doprint(expr.xreplace(numeric) if numeric else expr).replace("numpy.", "xp.")
    for f, placeholder in numeric.items():
        code = code.replace(placeholder.name, _MATH_PRINTER.doprint(f))
    code = re.sub(r"\bscipy\.special\.(expit|digamma)\(", r"\1(", code)  # Array-API versions: blrkit._array_api
    return re.sub(r"(?<![\w.])([\w.]+)\*\*\(-1\.0\)", r"(1/\1)", code)  # x**(-1.0), xp.pi**(-1.0): (1/x)


class _Printed:
    """Printed code with its array kind: 's' scalar, 'v' vector (…, n), 'M' matrix (…, n, k);
    ``sum`` when the code is a sum or difference at its top level (it needs parentheses as a
    factor), ``product`` when it is a chain of ``@``/``*`` (it needs them on the right only)."""

    __slots__ = ("code", "kind", "sum", "product")

    def __init__(self, code: str, kind: str, sum: bool = False, product: bool = False):
        self.code, self.kind, self.sum, self.product = code, kind, sum, product


def _T(code: str) -> str:
    return f"{_paren(code)}.mT"


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

    def __init__(self, dims: dict, sum_axis: int = -1, scale_first: bool = False, scalars: frozenset = frozenset()):
        self.dims, self.sum_axis, self.scale_first, self.scalars = dims, sum_axis, scale_first, scalars

    def print(self, expr) -> str:
        return self._p(expr).code

    def _p(self, e) -> _Printed:
        if not isinstance(e, MatrixExpr):
            if e.has(sp.Trace) or e.has(Determinant):
                return _Printed(self._with_traces(e), "s", sum=True)
            return _Printed(scalar_code(e, self.sum_axis, self.scale_first, self.scalars), "s")
        if isinstance(e, MatrixSymbol):
            return _Printed(CODE_NAMES.get(e.name, e.name), "v" if e.shape[1] == 1 else "M")
        if isinstance(e, Identity):
            return _Printed(self._eye(e.shape[0]), "M")
        if isinstance(e, Inverse):  # a bare inverse (an output precision): solved against the identity
            return _Printed(f"xp.linalg.solve({self._p(e.arg).code}, {self._eye(e.shape[0])})", "M")
        if isinstance(e, Transpose):
            inner = self._p(e.arg)
            if inner.kind != "M":
                raise NotImplementedError(f"transpose of a vector outside a product: {e}")
            return _Printed(_T(inner.code), "M")
        if isinstance(e, MatAdd):
            return self._matadd(e)
        if isinstance(e, MatMul):
            return self._matmul(e)
        raise NotImplementedError(f"cannot print {type(e).__name__}: {e}")

    def _eye(self, n) -> str:
        """The identity of size ``n`` (its run-time size from ``dims``), on the device of the array it is read from."""
        size = self.dims[n]
        if ".shape" not in size:
            raise NotImplementedError(f"an identity of size {size}: its size must be read from an array (x.shape[-1])")
        return f"xp.eye({size}, dtype=dtype, device=device({size.partition('.')[0]}))"

    def _with_traces(self, e) -> str:
        """A scalar sum of (coefficient × trace of a matrix product) terms."""
        code = ""
        e = e.replace(lambda x: isinstance(x, sp.Trace), lambda x: sp.Trace(sp.expand(x.arg)).doit())
        for t in sp.Add.make_args(sp.expand(e, log=False)):
            traces = [f for f in sp.Mul.make_args(t) if isinstance(f, sp.Trace)
                      or isinstance(f, sp.log) and isinstance(f.args[0], Determinant)]
            if len(traces) > 1:
                raise NotImplementedError(f"a product of traces: {t}")
            c = t / traces[0] if traces else t
            negative = _negative(c.as_coeff_Mul()[0])
            c = -c if negative else c
            if traces and isinstance(traces[0], sp.log):  # log det M = 2 Σ log diag(L), M = L Lᵀ (M is SPD)
                c, matrix = 2 * c, traces[0].args[0].arg
                traced = f"xp.sum(xp.log(xp.linalg.diagonal(xp.linalg.cholesky({self._p(matrix).code}))), axis=-1)"
            elif traces:
                traced = self._trace(traces[0].arg)
            text = scalar_code(c, self.sum_axis, scalars=self.scalars) if not traces else traced if c == 1 else \
                f"{_paren(scalar_code(c, self.sum_axis, scalars=self.scalars))} * {traced}"
            code = (f"{code} - {text}" if code else f"-{text}") if negative else (f"{code} + {text}" if code else text)
        return code

    def _trace(self, M) -> str:
        """tr(M): a sum of traces; a product rotated to vᵀ…u prints as a row sum, any other as ``xp.linalg.trace``."""
        M = sp.expand(M).doit()
        if isinstance(M, MatAdd):
            return "(" + " + ".join(self._trace(a) for a in M.args) + ")"
        c, mats = M.as_coeff_matrices() if isinstance(M, MatMul) else (sp.S.One, [M])
        rows = [i for i, f in enumerate(mats) if isinstance(f, Transpose) and f.arg.shape[1] == 1]
        if rows:  # tr(A u vᵀ) = vᵀ A u
            k = rows[0]
            mats = list(mats[k:]) + list(mats[:k])
            right = self._product(mats[1:])
            text = f"xp.sum({_paren(self._p(mats[0].arg).code)} * {_paren(right.code)}, axis=-1)"
        else:  # tr(A S⁻¹) = tr(S⁻¹ A): the solve first
            k = next((i for i, f in enumerate(mats) if isinstance(f, Inverse)), 0)
            text = f"xp.linalg.trace({self._product(list(mats[k:]) + list(mats[:k])).code})"
        return text if c == 1 else f"{scalar_code(c, scalars=self.scalars)} * {text}"

    def _matadd(self, e: MatAdd) -> _Printed:
        """Positive terms first (``xp.eye(D) - K @ H``, ``m_pred + K @ v``), then ``- term``."""
        code = ""
        kind = "s"
        for t in _ORDER._ordered(list(e.args)):
            c, mats = t.as_coeff_matrices() if isinstance(t, MatMul) else (sp.S.One, [t])
            negative = _negative(c)
            if negative:
                t = MatMul(-c, *mats) if -c != 1 else (mats[0] if len(mats) == 1 else MatMul(*mats))
            p = self._p(t)
            kind = p.kind if kind == "s" else kind
            text = f"({p.code})" if p.sum or (p.code.startswith("-") and (code or negative)) else p.code
            code = (f"{code} - {text}" if code else f"-{text}") if negative else \
                (f"{code} + {text}" if code else text)
        return _Printed(code, kind, sum=True)

    def _matmul(self, e: MatMul) -> _Printed:
        coeff, factors = e.as_coeff_matrices()
        prod = self._product(list(factors))
        if coeff == 1:
            return prod
        if coeff == -1:
            return _Printed(f"-{_paren(prod.code)}", prod.kind)
        scalar = scalar_code(coeff, scalars=self.scalars) if coeff.is_Number else \
            _broadcast(scalar_code(coeff, scalars=self.scalars), prod.kind)
        return _Printed(f"{scalar} * {_paren(prod.code)}", prod.kind, product=True)

    def _product(self, factors: list) -> _Printed:
        """Left to right; ``A⁻¹ B…`` prints as ``solve(A, B…)``, ``B A⁻¹`` as ``solve(Aᵀ, Bᵀ)ᵀ``."""
        for i, f in enumerate(factors):
            if isinstance(f, Inverse):
                a = self._p(f.arg)
                if i + 1 < len(factors):
                    rest = self._product(factors[i + 1:])
                    solved = self._solve(a.code, rest)
                    return self._times(factors[:i], solved)
                if i == 0:  # a bare A⁻¹ (a prior precision P̄⁻¹ in a sum): solved against the identity
                    A = _paren(a.code)
                    return _Printed(f"xp.linalg.solve({A}, xp.eye({A}.shape[-1], dtype={A}.dtype))", "M")
                left = self._product(factors[:i])
                return _Printed(_T(f"xp.linalg.solve({_T(a.code)}, {_T(left.code)})"), "M")
        out = self._p(factors[0])
        for i, f in enumerate(factors[1:], 1):
            if out.kind == "v" and isinstance(f, Transpose) and f.arg.shape[1] == 1:  # an outer product u vᵀ
                out = _Printed(f"{_paren(out.code)}[..., :, None] * {_paren(self._p(f.arg).code)}[..., None, :]", "M",
                               product=True)
                continue
            earlier = [g for g in factors[:i] if isinstance(g, MatAdd) and isinstance(f, MatAdd)
                       and Transpose(g).doit() == f]
            if earlier:  # (I - K H) P (I - K H)^T: the transpose of a factor printed before
                inner = self._p(earlier[0])
                out = self._mul(out, _Printed(_T(inner.code), inner.kind))
            else:
                out = self._mul(out, self._p(f))
        return out

    def _times(self, left_factors: list, right: _Printed) -> _Printed:
        if not left_factors:
            return right
        return self._mul(self._product(left_factors), right)

    @staticmethod
    def _solve(a: str, b: _Printed) -> _Printed:
        if b.kind == "v" and b.code.startswith("(") and b.code.endswith(")[..., 0]"):
            return _Printed(f"xp.linalg.solve({a}, {b.code[1:-len(')[..., 0]')]})[..., 0]", "v")
        if b.kind == "v":
            return _Printed(f"xp.linalg.solve({a}, {_paren(b.code)}[..., None])[..., 0]", "v")
        return _Printed(f"xp.linalg.solve({a}, {b.code})", "M")

    @staticmethod
    def _mul(a: _Printed, b: _Printed) -> _Printed:
        """``a @ b``; a product on the left needs no parentheses (``@`` groups left to right)."""
        left = a.code if a.product and not a.sum else _paren(a.code)
        if b.kind == "v":
            return _Printed(f"({left} @ {_paren(b.code)}[..., None])[..., 0]", "v")
        return _Printed(f"{left} @ {_paren(b.code)}", "M", product=True)


def _paren(code: str) -> str:
    """Parenthesise ``code`` unless it is atomic: a name or number followed by calls/subscripts."""
    return code if _atomic(code) else f"({code})"


def _atomic(code: str) -> bool:
    i = len(code) - len(code.lstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."))
    if i == len(code):
        return bool(code)
    while i < len(code):  # consume balanced (...) and [...] groups and attributes (.mT) back to back
        attribute = re.match(r"\.[A-Za-z_]\w*", code[i:])
        if attribute:
            i += attribute.end()
            continue
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
        "IMPORTS",
        "",
        "",
        f"def {d.function_name}({args}):",
        _docstring(d),
        "    # -- inputs ------------------------------------------------------------",
    ]
    arrays = [a.name for a in d.arguments if a.kind in ("vector", "matrix", "data", "scalar")]
    named = ', '.join(f'{n}={n}' for n in arrays)
    lines.append(f"    xp = array_namespace({named})")
    # the floating dtype of the array arguments: float32 stays float32 (blrkit._array_api.float_dtype)
    lines.append(f"    dtype = float_dtype(xp, {named})")
    for a in d.arguments:
        if a.kind in ("vector", "matrix", "data"):
            lines.append(f"    {a.name} = xp.asarray({a.name}, dtype=dtype)")
        elif a.kind == "scalar" and d.elementwise:  # a Python float stays one: its arithmetic is not an array's
            lines.append(f"    {a.name} = {a.name} if type({a.name}) is float else "
                         f"xp.asarray({a.name}, dtype=dtype)[..., None]")
        elif a.kind == "scalar":
            lines.append(f"    {a.name} = xp.asarray({a.name}, dtype=dtype)")
    if d.oracles:
        lines.append("    # -- oracle terms ------------------------------------------------------")
        lines.extend(f"    {line}" for line in oracle_code(d.oracles))
    printer = MatrixCodePrinter(dict(d.dims), d.extra.get("sum_axis", -1), scale_first=d.elementwise,
                                scalars=frozenset(a.name for a in d.arguments if a.kind in ("scalar", "int")))
    body = [a for a in d.assignments if a.target not in d.outputs]
    outs = [a for a in d.assignments if a.target in d.outputs]
    groups = ((("assignments, in order", list(d.assignments)),) if d.extra.get("in_order") else
              (("intermediate terms", body), ("outputs", outs)))
    for title, group in groups:
        if not group:
            continue
        lines.append(f"    # -- {title} " + "-" * (66 - len(title)))
        for a in group:
            if a.comment:
                lines.append(_comment(a.comment))
            lines.append(f"    {_name(a.target)} = {printer.print(a.expr)}")
    lines.append(f"    return {', '.join(_name(o) for o in d.outputs)}")
    return "\n".join(lines).replace("IMPORTS", _imports(lines)) + "\n"


def _imports(lines: list[str]) -> str:
    """``numpy`` if host-side NumPy is used, and the helpers of :mod:`blrkit._array_api` the code calls."""
    body = lines[lines.index("    # -- inputs ------------------------------------------------------------"):]
    code = "\n".join(line for line in body if not line.lstrip().startswith("#"))
    helpers = ["array_namespace"] + [f for f in ("device", "digamma", "expit", "float_dtype", "logsumexp", "on_device")
                                     if re.search(rf"(?<![.\w]){f}\(", code)]
    out = ["import math", ""] if re.search(r"(?<![.\w])math\.", code) else []
    out += ["import numpy as np", ""] if re.search(r"(?<![.\w])np\.", code) else []
    # special functions without an Array API version here (gammaln, polygamma, log_ndtr): such a step takes NumPy arrays
    out += ["import scipy.special", ""] if "scipy.special." in code else []
    return "\n".join(out + [f"from blrkit._array_api import {', '.join(helpers)}"])


def _name(sym) -> str:
    return CODE_NAMES.get(sym.name, sym.name)


def _docstring(d) -> str:
    from ..paper import cite

    out = ['    r"""' + d.summary.splitlines()[0]]
    out += [f"    {line}" if line else "" for line in d.summary.splitlines()[1:]]
    out += ["", "    .. math::", ""]
    out += [f"        {eq.latex(states=d.states, notation=d.notation).replace('&', '')}"
            + (r" \\" if i + 1 < len(d.update) else "")
            for i, eq in enumerate(d.update)]
    out += ["", "    Parameters", "    ----------"]
    for a in d.arguments:
        out += [f"    {a.name} : {a.kind}", f"        {a.doc}"]
    out += ["", "    Returns", "    -------", f"    {', '.join(_name(o) for o in d.outputs)}", "",
            "    References", "    ----------", f"    {cite(d.anchor)}", '    """']
    return "\n".join(out)


# -- the code printer of the IR's nodes (blrkit.derive.ir) ----------------------------------------------------------
def node_code(node) -> list[str]:
    """The lines of array code (through ``xp``) that evaluate one node of :mod:`blrkit.derive.ir`: the one
    printer of the oracle terms of an emitted step."""
    printer = _NODE_PRINTERS.get(type(node))
    if printer is None:
        raise TypeError(f"no code printer for {type(node).__name__}; an oracle term must be a blrkit.derive.ir node")
    return printer(node)


def oracle_code(nodes) -> list[str]:
    """The lines of ``nodes``, in order (see :func:`node_code`)."""
    return [line for n in nodes for line in node_code(n)]


def _point(e) -> str:
    """A point an oracle is called at: a name, or an unevaluated product or sum of names, in the order given."""
    if isinstance(e, str):
        return e
    if isinstance(e, sp.Symbol):
        return e.name
    if isinstance(e, sp.Mul):
        return " * ".join(f"({_point(a)})" if isinstance(a, sp.Add) else _point(a) for a in e.args)
    if isinstance(e, sp.Add):
        return " + ".join(_point(a) for a in e.args)
    raise TypeError(f"an oracle's point must be a name, a product or a sum, got {e!r}")


def _like(expr, like, code: str) -> str:
    """``code`` broadcast to the shape of the array ``like`` when ``expr`` does not depend on it."""
    if like is None or any(getattr(s, "name", None) == like for s in expr.free_symbols):
        return code
    return f"xp.full_like({like}, {code})"


def _mean0(code: str, average: bool) -> str:
    return f"xp.mean({code}, axis=0)" if average else code


def _stack_entry(code: str) -> str:
    """One entry of a stacked array, broadcast to the batch shape by adding ``zero``."""
    return f"zero - {code[1:]}" if code.startswith("-") else f"zero + {code}"


def _stack_of(entries) -> str:
    if entries and isinstance(entries[0], tuple):
        return "xp.stack([" + ", ".join(_stack_of(row) for row in entries) + "], axis=-2)"
    return "xp.stack([" + ", ".join(_stack_entry(scalar_code(e)) for e in entries) + "], axis=-1)"


def _operand(o) -> str:
    return o.name if o.over is None else f"({o.name} / {o.over})"


def _contract(c) -> str:
    """A :class:`~blrkit.derive.ir.Contraction` as a matrix product (or a sum over one axis)."""
    left, right = c.left, c.right
    if right is None:
        (summed,) = set(left.indices) - set(c.out)
        return f"xp.sum({_operand(left)}, axis={left.indices.index(summed) - len(left.indices)})"
    shared = set(left.indices) & set(right.indices)
    (k,) = shared - set(c.out)
    free = left.indices.replace(k, "") + right.indices.replace(k, "")
    if free != c.out or len(left.indices) != 2 or len(right.indices) != 2:
        raise ValueError(f"contraction {left.indices},{right.indices}->{c.out} is not one matrix product")
    a = _operand(left) + (".mT" if left.indices[0] == k else "")
    b = _operand(right) + (".mT" if right.indices[1] == k else "")
    return f"{a} @ {b}"


def _contraction_code(c) -> list[str]:
    code = _contract(c)
    if c.times is not None:
        code = f"{c.times} * ({code})"
    if c.shape is not None:
        code = f"xp.reshape({code}, (*{c.shape}.shape, D, D))"
    return [f"{c.target} = {code}" + (f"  # {c.note}" if c.note else "")]


def _oracle_call_code(n) -> list[str]:
    call = f"{n.oracle}({_point(n.at)})"
    if n.log_weight is not None:
        value = f"xp.mean(xp.exp({n.log_weight}) / {n.divisor} * {call}, axis=0)"
    else:
        value = _mean0(call, n.average)
    return [f"{', '.join(n.targets)} = {value}" + (f"  # {n.note}" if n.note else "")]


def _count_code(n) -> list[str]:
    line = f"{', '.join(n.targets)} = {', '.join(f'{n.array}.shape[{a}]' for a in n.axes)}"
    return [line + (f"  # {n.doc}" if n.doc else "")]


def _sample_code(n) -> list[str]:
    shape = f"({n.draws}, *{n.like}.shape)" if n.draws is not None else f"{n.like}.shape[-1:]"
    draw = {"normal": f"rng.standard_normal({shape})", "uniform": f"rng.uniform(size={shape})",
            "bernoulli": f"rng.uniform(size={shape}) < {n.prob}"}[n.distribution]
    return [f"{n.target} = on_device(xp, {draw}, {n.like})"]


def _draw_argument(expr) -> str:
    """A sampler's argument: ``1 / beta`` for a reciprocal of a parameter, else the expression's code."""
    if isinstance(expr, sp.Pow) and expr.exp == -1 and isinstance(expr.base, sp.Symbol):
        return f"1 / {expr.base.name}"
    return scalar_code(expr)


def _family_sample_code(n) -> list[str]:
    """``n_samples`` draws θ ~ q by NumPy's generator on the host (so these steps take NumPy arrays, or arrays NumPy
    can read), moved to the parameters' device; their shape is the parameters' broadcast shape after the draws."""
    shape = n.params[0] if len(n.params) == 1 else "(" + " * ".join(n.params) + ")"
    args = ", ".join(_draw_argument(a) for a in n.args)
    return [f"{n.target} = on_device(xp, rng.{n.method}({args}, size=(n_samples, *{shape}.shape)), {n.params[0]})"]


def _family_quadrature_code(n) -> list[str]:
    stack = lambda xs: "xp.stack(xp.broadcast_arrays(" + ", ".join(xs) + "), axis=-1)"  # noqa: E731
    like = n.params[0]
    batch = n.params[0] if len(n.params) == 1 else "(" + " * ".join(n.params) + ")"
    u, th = n.u, n.theta
    weights = [f"{th} = {scalar_code(n.phi)}",
               f"log_p = xp.log(w * dv) + {scalar_code(n.log_jacobian)} + {scalar_code(n.log_kernel)}",
               "p = xp.exp(log_p - xp.max(log_p, axis=0))",
               "p = p / xp.sum(p, axis=0)"]
    span = "" if n.span is None else f"{n.span!r} * "
    code = [f"t, w = (xp.reshape(on_device(xp, {span}a, {like}), ({n.n},) + (1,) * {batch}.ndim)"
            f" for a in np.polynomial.legendre.leggauss({n.n}))"]
    if n.span is None:
        code += ["v, dv = t, 1.0", f"{u} = v"] + weights
    else:
        code += ["# u = t/(1 − t²) sends (−1, 1) onto the real line; a first pass finds the bulk of q_t in u",
                 "v, dv = t / (1 - t**2), (1 + t**2) / (1 - t**2)**2", f"{u} = v"] + weights
        code += [f"u_mean = xp.sum(p * {u}, axis=0)", f"u_sd = xp.sqrt(xp.sum(p * ({u} - u_mean)**2, axis=0))",
                 "# the second pass: the same nodes, centred on the bulk and scaled to its spread",
                 f"{u} = u_mean + u_sd * v", "dv = u_sd * dv"] + weights
    code = code + [
        "# p_j ∝ w_j (dθ/dt)(t_j) h(θ_j) exp(λᵀT(θ_j)), normalised over the nodes (A(λ) cancels); a node of weight 0",
        "# (θ rounded onto an end of the support, where T may be infinite) adds nothing",
        f"f = xp.where(p > 0, {scalar_code(n.integrand)} + 0 * {th}, 0.0)",
        f"T = xp.where(p[..., None] > 0, {stack([scalar_code(t) + f' + 0 * {th}' for t in n.statistics])}, 0.0)",
        "D = T - xp.sum(p[..., None] * T, axis=0)",
        "# ∇_λ E_q[f] = Cov_q[T, f] and F(λ) = Cov_q[T], both over the nodes",
        "grad_lam = xp.sum((p * f)[..., None] * D, axis=0)",
        "F = xp.sum(p[..., None, None] * D[..., :, None] * D[..., None, :], axis=0)",
        f"{n.target} = xp.linalg.solve(F, grad_lam[..., None])[..., 0]"]
    # a node rounded onto an end of the support takes the log of 0 there, and is given weight 0: NumPy's warning
    # about it would tell the user of nothing wrong
    return ["with np.errstate(divide=\"ignore\", invalid=\"ignore\"):"] + ["    " + line for line in code]


def _reparameterise_code(n) -> list[str]:
    value = {"cholesky": f"{n.mean} + xp.linalg.solve({n.scale}.mT, {n.noise}[..., None])[..., 0]",
             "diagonal": f"{n.mean} + {n.noise} / xp.sqrt({n.scale})",
             "identity": f"{n.mean} + {n.noise}"}[n.form]
    return [f"{n.target} = {value}"]


def _relaxation_code(n) -> list[str]:
    lam, z, tau = n.logits, "z", n.temperature
    return [f"{z} = ({lam} + 0.5 * (xp.log(u) - xp.log1p(-u))) / {tau}",
            f"{n.target} = xp.tanh({z})",
            "# ŝ = (1 − w²)/(τ(1 − μ²)) in logs: log(1 − tanh²x) = log 4 − 2|x| − 2 log(1 + e^{-2|x|})",
            f"{n.log_scale} = 2 * (xp.abs({lam}) - xp.abs({z})) + 2 * (xp.log1p(xp.exp(-2 * xp.abs({lam})))"
            f" - xp.log1p(xp.exp(-2 * xp.abs({z}))))"]


def _glm_sum_code(n) -> list[str]:
    X, w = n.design, n.weight
    form = {"gradient": f"({X}.mT @ {w}[..., None])[..., 0]", "hessian": f"{X}.mT @ ({w}[..., None] * {X})",
            "hessian_diagonal": f"xp.sum({w}[..., None] * {X}**2, axis=-2)",
            "gauss_newton": f"xp.sum(({w}**2)[..., None] * {X}**2, axis=-2)"}[n.kind]
    return [f"{n.target} = {_mean0(form, n.average)}"]


def _quadrature_code(n) -> list[str]:
    X, P = n.design, n.precision
    var = (f"xp.sum({X}**2 / {P}[..., None, :], axis=-1)" if n.diagonal else
           f"xp.sum({X} * xp.linalg.solve({P}, {X}.mT).mT, axis=-1)")
    return [f"eta_mean = ({X} @ m[..., None])[..., 0]", f"eta_var = {var}",
            f"z, w = (on_device(xp, a, {X}) for a in np.polynomial.hermite.hermgauss({n.n}))",
            "eta = eta_mean[..., None] + xp.sqrt(2 * eta_var)[..., None] * z",
            f"y_nodes = {n.labels}[..., None]"]


def _quadrature_sum_code(n) -> list[str]:
    code = _like(n.integrand, n.like, scalar_code(n.integrand))
    norm = " / math.sqrt(math.pi)" if n.normalised else ""
    return [f"{n.target} = xp.sum({n.weights} * ({code}), axis=-1){norm}"]


def _enumeration_code(n) -> list[str]:
    lam, P = n.logits, n.size
    return [f"bits = (xp.arange(2**{P}, device=device({lam}))[:, None] >> xp.arange({P}, device=device({lam}))) & 1",
            "W = 2.0 * xp.astype(bits, dtype) - 1.0",
            f"ell = xp.asarray({n.loss}(W), dtype=dtype)  # (2**{P},)",
            f"f = (1 + xp.tanh({lam})[..., None, :] * W) / 2",
            "before = xp.cumulative_prod(f[..., :-1], axis=-1, include_initial=True)",
            "after = xp.flip(xp.cumulative_prod(xp.flip(f[..., 1:], axis=-1), axis=-1, include_initial=True), axis=-1)",
            f"{n.target} = 0.5 * xp.sum(W * ell[:, None] * before * after, axis=-2)  # ∂E_q[ℓ]/∂μ_j"]


def _log_mean_code(n) -> list[str]:
    norm = f" - digamma(xp.sum({n.of}, axis=-1, keepdims=True))" if n.normalised else ""
    return [f"{n.target} = xp.exp(digamma({n.of}){norm})"]


def _local_fixed_point_code(n) -> list[str]:
    g, beta = n.state, n.topics
    theta = _log_mean_code(ir.LogMeanParameter("exp_elog_theta", g))[0]
    norm = ir.Contraction("norm_phi", "dw", ir.Operand("exp_elog_theta", "dk"), ir.Operand(beta, "kw"))
    back = ir.Contraction("new", "dk", ir.Operand(n.counts, "dw", "norm_phi"), ir.Operand(beta, "kw"))
    return [f"active = xp.ones({g}.shape[:-1], dtype=xp.bool, device=device({g}))",
            f"for _ in range({n.cap}):",
            f"    {theta}",
            f"    norm_phi = {_contract(norm)} + 1e-100  # Σ_k exp(E[log θ_dk] + E[log β_kw])",
            f"    new = {n.prior} + exp_elog_theta * ({_contract(back)})",
            f"    change = xp.mean(xp.abs(new - {g}), axis=-1)",
            f"    {g} = xp.where(active[..., None], new, {g})",
            f"    active = active & (change >= {n.tol})",
            "    if not xp.any(active):",
            "        break",
            theta,
            f"norm_phi = {_contract(norm)} + 1e-100"]


def _mixture_log_density_code(n) -> list[str]:
    th, m, S, v, L = n.draws, n.means, n.precisions, n.log_weights, n.factor
    return [f"d = {th}[..., :, None, :] - {m}[..., None, :, :]",
            f"Sd = ({S}[..., None, :, :, :] @ d[..., None])[..., 0]",
            f"logdet_S = 2 * xp.sum(xp.log(xp.linalg.diagonal({L})), axis=-1)",
            f"log_pi = {v} - logsumexp({v}, xp, keepdims=True)",
            f"a = (log_pi + logdet_S / 2)[..., None, :] - xp.sum(d * Sd, axis=-1) / 2 - {m}.shape[-1] / 2 * "
            "math.log(2 * math.pi)",
            "log_q = logsumexp(a, xp)",
            "r = xp.exp(a - log_q[..., None])  # responsibilities r_j(θ_{k,s})",
            "glogq = -xp.sum(r[..., None] * Sd, axis=-2)",
            f"Hlogq = (xp.sum(r[..., None, None] * (Sd[..., :, None] * Sd[..., None, :] - {S}[..., None, :, :, :]), "
            "axis=-3)",
            "         - glogq[..., :, None] * glogq[..., None, :])"]


def _score_function_code(n) -> list[str]:
    stack = lambda xs: "xp.stack(xp.broadcast_arrays(" + ", ".join(xs) + "), axis=-1)"  # noqa: E731
    th = n.draws
    return [f"f = {scalar_code(n.integrand)} + xp.zeros({th}.shape, dtype=dtype, device=device({th}))",
            f"T = {stack([scalar_code(t) + f' + 0 * {th}' for t in n.statistics])}",
            f"mu = {stack([scalar_code(x) for x in n.mean])}",
            "# a control variate: each draw's f less b_k, the mean of f over the other K − 1 draws (0 when K = 1);",
            "# E[T(θ) − μ] = 0 and b_k is independent of θ_k, so the estimate stays unbiased with a smaller variance",
            "b = (xp.sum(f, axis=0) - f) / max(n_samples - 1, 1)",
            "grad_lam = xp.mean((f - b)[..., None] * (T - mu), axis=0)",
            "F = xp.stack([" + ", ".join(stack([scalar_code(x) for x in row]) for row in n.fisher) + "], axis=-2)",
            f"{n.target} = xp.linalg.solve(F, grad_lam[..., None])[..., 0]"]


def _let_code(n) -> list[str]:
    code = MatrixCodePrinter(dict(n.dims)).print(n.expr) if n.matrix else scalar_code(n.expr)
    return [f"{n.target} = {_like(n.expr, n.like, code)}"]


def _label_check_code(n) -> list[str]:
    return [f"if bool(xp.any(({n.array} != 0) & ({n.array} != 1))):",
            f"    raise ValueError(\"{n.array} must hold labels 0 or 1 for the {n.loss} loss \"",
            f"                     \"({n.advice})\")"]


#: node type -> its printer (each a pure function of the node)
_NODE_PRINTERS = MappingProxyType({
    ir.Comment: lambda n: [f"# {line}" for line in n.text.splitlines()],
    ir.Let: _let_code,
    ir.Constant: lambda n: [f"{n.target} = xp.asarray({n.value}, dtype=dtype)"],
    ir.Count: _count_code,
    ir.LabelCheck: _label_check_code,
    ir.OracleCall: _oracle_call_code,
    ir.Alias: lambda n: [f"{n.target} = {_mean0(n.source, n.average)}"],
    ir.DeviationMean: lambda n: [f"{n.target} = xp.mean({n.of} * ({n.draws} - {n.mean}), axis=0)"],
    ir.Select: lambda n: [f"{', '.join(n.targets)} = {', '.join(f'{s}[..., -1:]' for s in n.sources)}"],
    ir.Sample: _sample_code,
    ir.FamilySample: _family_sample_code,
    ir.FamilyQuadrature: _family_quadrature_code,
    ir.Cholesky: lambda n: [f"{n.target} = xp.linalg.cholesky({n.of})"],
    ir.Reparameterise: _reparameterise_code,
    ir.Relaxation: _relaxation_code,
    ir.Sign: lambda n: [f"{n.target} = 2.0 * xp.astype({n.of} >= 0, dtype) - 1.0"],
    ir.LinearPredictor: lambda n: [f"{n.target} = ({n.design} @ {n.at}[..., None])[..., 0]"],
    ir.GlmSum: _glm_sum_code,
    ir.Quadrature: _quadrature_code,
    ir.QuadratureSum: _quadrature_sum_code,
    ir.Enumeration: _enumeration_code,
    ir.Contraction: _contraction_code,
    ir.LogMeanParameter: _log_mean_code,
    ir.LocalFixedPoint: _local_fixed_point_code,
    ir.Responsibilities: lambda n: [
        f"{n.log_norm} = logsumexp({n.logits}, xp)",
        f"{n.target} = xp.exp({n.logits}" + (f" - {n.log_norm}[..., None]" if n.normalised else "") + ")"
        + (f"  # {n.note}" if n.note else "")],
    ir.PairingLogits: lambda n: [
        f"{n.target} = {n.design} @ {n.eta1}.mT + {n.outer} @ xp.reshape({n.eta2}, (*{n.eta2}.shape[:-2], "
        f"D * D)).mT + {n.offset}[..., None, :]"],
    ir.MixtureLogDensity: _mixture_log_density_code,
    ir.LogDet: lambda n: [f"{n.target} = xp.linalg.slogdet({n.of})[1]"],
    ir.Components: lambda n: [
        f"{', '.join(n.targets)} = " + ", ".join(
            f"{n.array}[..., {', '.join(map(str, i)) if isinstance(i, tuple) else i}]" for i in n.indices)],
    ir.Zeros: lambda n: [f"{n.target} = xp.zeros({n.like}.shape[:-1], dtype=dtype, device=device({n.like}))"],
    ir.Inverse: lambda n: [
        f"{n.target} = xp.linalg.solve({n.of}, xp.broadcast_to(xp.eye({n.of}.shape[-1], dtype=dtype, "
        f"device=device({n.of})), {n.of}.shape))"],
    ir.Stack: lambda n: [f"{n.target} = {_mean0(_stack_of(n.entries), n.average)}"],
    ir.ScoreFunction: _score_function_code,
    })
