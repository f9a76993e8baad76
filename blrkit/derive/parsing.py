r"""Parse a loss typed by a user (``--loss``, ``--glm``) into SymPy, without running Python.

SymPy's ``sympify`` and ``parse_expr`` evaluate the text with Python's ``eval``, so a string such
as ``__import__('os').system(...)`` would run.  :func:`parse_expression` first reads the text with
:mod:`ast` and accepts only arithmetic on numbers, the names it is given, and a fixed list of
mathematical functions; only then does SymPy build the expression.

The work a typed loss may ask for is bounded before any of it is done: at most :data:`MAX_LENGTH`
characters, nesting at most :data:`MAX_DEPTH` deep, integer powers of θ at most :data:`MAX_POWER`, and
powers of numbers of at most :data:`MAX_DIGITS` digits. Every number of the loss must be a finite float64
(:func:`check_numbers`, which :func:`blrkit.derive.derive` applies to a SymPy loss given in Python too), and
no larger than :data:`MAX_NUMBER` (nor, but for 0, smaller than its inverse) in size, as a float of at most
:data:`MAX_FLOAT_BITS` bits or a fraction of integers of that size: SymPy computes with a loss's numbers exactly,
and its polynomial factorisation ran for minutes on ``1e308*theta**2`` for a Gamma.
"""

from __future__ import annotations

import ast
import math

import sympy as sp

from .errors import DerivationError
from .functions import STABLE

#: the longest loss text read (a 3,000-term loss is refused here, not by a RecursionError)
MAX_LENGTH = 10_000
#: the deepest nesting of operations and calls
MAX_DEPTH = 100
#: the largest integer power (of an expression in θ, or a negative one) a loss may take
MAX_POWER = 100
#: the most digits a power of numbers may have (10**400 has 401)
MAX_DIGITS = 400
#: the largest number whose factorial or Γ a loss may take (171! and Γ(172) overflow a float64, and SymPy evaluates
#: them, or Γ of a half-integer, digit by digit: factorial(10**10) never ends)
MAX_FACTORIAL = 171
#: the largest number (and numerator or denominator of a fraction) a loss may hold, and the inverse the smallest:
#: SymPy's factorisation (the conjugate engine simplifies with it) ran for minutes on the float 1e308 times θ² (and on
#: 1e250, 2.5e190 θ² + θ, 2.2e-179 θ + θ²), and took 5 s on the integer 10**308 θ² + θ; under 1e100 each derives in
#: under 2 s. Larger numbers overflow the emitted step's float64 at once anyway (1e308 θ² past θ = 1.4).
MAX_NUMBER = 10**100
#: the most bits of precision a float in a loss may carry (Float("0.1", 400) ran for minutes; float64 has 53)
MAX_FLOAT_BITS = 64
_FLOAT_MAX, _FLOAT_TINY = sp.Float(1.7976931348623157e308), sp.Float(2.2250738585072014e-308)
#: exp(x) overflows a float64 above this x and underflows to 0 below the other (log of the largest and smallest floats)
_EXP_MAX, _EXP_MIN = 709.78, -745.13

#: the functions a typed loss may call
FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh, "atan": sp.atan, "erf": sp.erf, "erfc": sp.erfc,
    "Abs": sp.Abs, "abs": sp.Abs, "gamma": sp.gamma, "loggamma": sp.loggamma, "digamma": sp.digamma,
    "factorial": sp.factorial, **STABLE,
}
_CONSTANTS = {"pi": sp.pi, "E": sp.E}
#: the functions SymPy evaluates exactly when given a number
_EAGER = (sp.factorial, sp.gamma)
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load, ast.Constant,
          ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


def parse_expression(text: str, symbols: dict, *, what: str = "--loss"):
    """SymPy expression of ``text`` in the given ``symbols`` (name → Symbol).

    Raises ``ValueError`` naming ``what`` for anything but arithmetic, numbers, the symbols and
    :data:`FUNCTIONS`.

    >>> th = sp.Symbol("theta", real=True)
    >>> parse_expression("theta**4 - 2*theta**2", {"theta": th})
    theta**4 - 2*theta**2
    >>> parse_expression("__import__('os')", {"theta": th})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --loss: '__import__' is not a known function; the functions are Abs, abs, ...
    """
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}")
    if not isinstance(symbols, dict) or not all(isinstance(k, str) and isinstance(v, sp.Basic)
                                                for k, v in symbols.items()):
        raise TypeError(f"symbols must be a dict of names to SymPy symbols (e.g. {{'theta': sp.Symbol('theta')}}), "
                        f"got {type(symbols).__name__}")
    if len(text) > MAX_LENGTH:
        raise DerivationError(f"{what}: the loss is longer than {MAX_LENGTH} characters ({len(text)}); write it "
                              "with fewer terms (a sum over data is a Likelihood, not a typed sum)")
    source = text.replace("^", "**")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as e:
        raise ValueError(f"{what}: cannot parse {text!r} ({e.msg})") from None
    except (RecursionError, MemoryError):
        raise DerivationError(f"{what}: the loss is nested more than {MAX_DEPTH} deep") from None
    _check_depth(tree.body, what)
    allowed = {**FUNCTIONS, **_CONSTANTS, **symbols}
    hint = ", ".join(sorted(symbols)) + " and exp, log, ..."
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise ValueError(f"{what}: {type(node).__name__.lower()} is not allowed in {text!r}; "
                             "write arithmetic in " + hint)
        if isinstance(node, ast.Name) and node.id not in allowed:
            raise ValueError(f"{what}: {node.id!r} is not a known symbol or function; use {hint}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise ValueError(f"{what}: only numbers may appear as constants in {text!r}")
        if isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS
                                           or node.keywords):
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ValueError(f"{what}: {name!r} is not a known function; the functions are "
                             f"{', '.join(sorted(FUNCTIONS))}")
    return check_numbers(_build(tree.body, allowed, source, what), what)


def _check_depth(root, what: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` (walked without recursion)."""
    todo = [(root, 1)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise DerivationError(f"{what}: the loss is nested more than {MAX_DEPTH} deep")
        todo.extend((child, depth + 1) for child in ast.iter_child_nodes(node)
                    if isinstance(child, (ast.expr, ast.Expression)))


def _build(node, names, source: str, what: str):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, float):
            literal = ast.get_source_segment(source, node) or repr(node.value)
            if math.isinf(node.value):
                raise DerivationError(f"{what}: the number {literal} overflows a float64 (largest about 1.8e308)")
            if node.value == 0 and sp.Rational(literal) != 0:
                raise DerivationError(f"{what}: the number {literal} underflows to 0 in a float64 (smallest "
                                      "normal about 2.2e-308)")
            return sp.nsimplify(node.value)
        return sp.Integer(node.value)
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _build(node.operand, names, source, what)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call):
        args = [_build(a, names, source, what) for a in node.args]
        if names[node.func.id] in _EAGER and args and args[0].is_Number and abs(args[0]) > MAX_FACTORIAL:
            raise DerivationError(f"{what}: {node.func.id}({args[0]}) is beyond float64's range (it holds "
                                  f"{node.func.id} of numbers up to about {MAX_FACTORIAL}); SymPy would compute "
                                  "its every digit")
        return names[node.func.id](*args)
    a, b = _build(node.left, names, source, what), _build(node.right, names, source, what)
    op = type(node.op)
    if op is ast.Pow:
        _check_power(a, b, what)
    return {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
            ast.Div: lambda: a / b, ast.Pow: lambda: a ** b}[op]()


def _check_power(base, exponent, what: str) -> None:
    """Refuse a power whose derivation or value would not end: θ to an integer power above :data:`MAX_POWER`,
    or a power of numbers with more than :data:`MAX_DIGITS` digits, before SymPy computes it."""
    if not exponent.is_Number or exponent.is_Float and not exponent.is_finite:
        return
    if base.is_Number:
        if base == 0 or abs(base) == 1 or not exponent.is_Integer:
            return
        digits = math.floor(abs(int(exponent)) * math.log10(abs(float(base)))) + 1 if abs(base) > 1 else 0
        if digits > MAX_DIGITS:
            raise DerivationError(f"{what}: {base}**{exponent} would have {digits} digits (a float64 holds "
                                  f"about 308); blrkit refuses powers of numbers above {MAX_DIGITS} digits")
        return
    if exponent.is_Integer and abs(exponent) > MAX_POWER:
        raise DerivationError(f"{what}: the power {exponent} of {base} is larger than {MAX_POWER} in size: blrkit "
                              f"refuses integer powers beyond ±{MAX_POWER} (their derivatives and moments would not "
                              "end)")


def check_numbers(expr, what: str = "the loss"):
    """``expr`` itself if every number in it is a finite float64; else a :class:`DerivationError` saying why.

    Refused: NaN, ±∞, complex infinity (a division by zero, ``log(0)``), complex numbers, and numbers
    that overflow a float64 or underflow to 0 in one (``exp(1000)``, ``exp(-1000)``, ``10**-400``): the
    emitted step would compute with ``inf``, ``nan`` or a 0 that is not zero.

    >>> check_numbers(sp.Symbol("theta") / 0)
    Traceback (most recent call last):
    ...
    blrkit.derive.errors.DerivationError: the loss is complex infinity (zoo: a division by zero or log(0)): zoo*theta
    """
    if not isinstance(expr, sp.Basic):
        return expr
    shown = str(expr) if len(str(expr)) <= 80 else str(expr)[:77] + "..."
    for atom, says in ((sp.nan, "NaN (not a number)"), (sp.zoo, "complex infinity (zoo: a division by zero or "
                                                          "log(0))"), (sp.oo, "infinite"), (-sp.oo, "infinite")):
        if expr.has(atom):
            raise DerivationError(f"{what} is {says}: {shown}")
    todo = [expr]
    while todo:
        node = todo.pop()
        if node is sp.I:
            raise DerivationError(f"{what} is complex (it holds I = √−1): {shown}")
        if isinstance(node, sp.Integer):
            if abs(node) > 10**308:  # a float64 cannot hold it; smaller integers are exact or round
                _check_value(node, what)
            _check_size(node, what)
            continue
        if isinstance(node, (sp.Rational, sp.Float)):
            _check_value(node, what)
            _check_size(node, what)
            continue
        if getattr(node, "is_number", False):  # numbers alone: a float, a fraction, exp(1000), log(2π)
            _check_value(node, what)
            continue
        todo.extend(node.args)
    return expr


def _check_size(number, what: str) -> None:
    """A number of at most :data:`MAX_NUMBER` in size (numerator and denominator of a fraction; a float's value and
    its inverse), and a float of at most :data:`MAX_FLOAT_BITS` bits."""
    if isinstance(number, sp.Float):
        if number._prec > MAX_FLOAT_BITS:
            raise DerivationError(f"{what}: the float {_n3(number)} carries {number._prec} bits of precision (a float64 "
                                  f"53; blrkit takes up to {MAX_FLOAT_BITS}): SymPy's factorisation of it would not end; "
                                  "give it as a float64 or exactly (sp.Rational)")
        big = number != 0 and not 1 / sp.Float(MAX_NUMBER) <= abs(number) <= MAX_NUMBER
    else:
        big = max(abs(number.p), number.q) > MAX_NUMBER
    if big:
        raise DerivationError(f"{what}: the number {_n3(number)} is beyond 1e100 in size (or its inverse is): SymPy "
                              "computes with a loss's numbers exactly, and its factorisation with 1e308 ran for "
                              "minutes; blrkit takes numbers from 1e-100 to 1e100 (and fractions of such integers): "
                              "rescale the loss")


def check_step_size(value, what: str = "rho"):
    """A numeric step size ρ (a SymPy number in (0, 1]) itself if a float64 holds it; else a
    :class:`DerivationError` saying why: ``rho=1e-400`` is an exact rational to SymPy, but the emitted step
    computes ``1/10**400`` in float64, which is 0, and would not move.

    >>> check_step_size(sp.Rational(1, 4))
    1/4
    >>> check_step_size(sp.Rational(1, 10**400))
    Traceback (most recent call last):
    ...
    blrkit.derive.errors.DerivationError: rho = 1.00E-400 underflows to 0 in a float64 (smallest normal about 2.2e-308): the emitted step would compute with rho = 0 and never move; give rho >= 2.3e-308
    """
    v = sp.sympify(value)
    if v.is_Number and 0 < abs(v) < _FLOAT_TINY:
        raise DerivationError(f"{what} = {_n3(v)} underflows to 0 in a float64 (smallest normal about 2.2e-308): the "
                              f"emitted step would compute with {what} = 0 and never move; give {what} >= 2.3e-308")
    return value


def _n3(x) -> str:
    """``x`` to 3 digits as SymPy shows it (1.97E+434), or as its str where the exponent is beyond what
    ``decimal`` formats (exp(1e308) = 1.05e+434294481903251827651)."""
    try:
        return f"{sp.N(x, 3)}"
    except (ArithmeticError, ValueError):
        return str(sp.N(x, 3))


def _check_value(node, what: str) -> None:
    """A number-only subexpression: real and within float64's range (evaluated by mpmath: no overflow here).

    Each exponential inside is checked first, innermost first, by its exponent: ``exp(exp(exp(10)))`` is
    refused at ``exp(exp(10))`` without evaluating a number of 10⁹⁵⁶⁶ digits' size (that took minutes), and an
    ``exp`` that overflows is refused even where the whole would fit (the emitted step computes each one)."""
    for e in sorted(node.atoms(sp.exp), key=sp.count_ops):
        power = sp.N(e.args[0], 20)
        if power.is_real and power > _EXP_MAX:
            shown = e if len(str(e)) <= 40 else "an exponential"
            raise DerivationError(f"{what}: {shown} = e**{_n3(e.args[0])} overflows a float64 (largest about "
                                  f"e**{_EXP_MAX})")
        if power.is_real and power < _EXP_MIN:
            raise DerivationError(f"{what}: {e} = {_n3(e)} underflows to 0 in a float64 (smallest about "
                                  f"e**{_EXP_MIN})")
    value = sp.N(node, 20)
    if value.has(sp.I) or not value.is_real:
        raise DerivationError(f"{what} is complex: {node} = {_n3(node)}")
    size = abs(value)
    shown = f"{node} = {_n3(node)}" if len(str(node)) <= 40 else f"the number {_n3(node)}"
    if size > _FLOAT_MAX:
        raise DerivationError(f"{what}: {shown} overflows a float64 (largest about 1.8e308)")
    if 0 < size < _FLOAT_TINY:
        raise DerivationError(f"{what}: {shown} underflows to 0 in a float64 (smallest normal about 2.2e-308)")
