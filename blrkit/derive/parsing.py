r"""Parse a loss typed by a user (``--loss``, ``--glm``) into SymPy, without running Python.

SymPy's ``sympify`` and ``parse_expr`` evaluate the text with Python's ``eval``, so a string such
as ``__import__('os').system(...)`` would run.  :func:`parse_expression` first reads the text with
:mod:`ast` and accepts only arithmetic on numbers, the names it is given, and a fixed list of
mathematical functions; only then does SymPy build the expression.
"""

from __future__ import annotations

import ast

import sympy as sp

from .functions import STABLE

#: the functions a typed loss may call
FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh, "atan": sp.atan, "erf": sp.erf, "erfc": sp.erfc,
    "Abs": sp.Abs, "abs": sp.Abs, "gamma": sp.gamma, "loggamma": sp.loggamma, "digamma": sp.digamma,
    "factorial": sp.factorial, **STABLE,
}
_CONSTANTS = {"pi": sp.pi, "E": sp.E}
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
    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"{what}: cannot parse {text!r} ({e.msg})") from None
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
    return _build(tree.body, allowed)


def _build(node, names):
    if isinstance(node, ast.Constant):
        return sp.nsimplify(node.value) if isinstance(node.value, float) else sp.Integer(node.value)
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _build(node.operand, names)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call):
        return names[node.func.id](*(_build(a, names) for a in node.args))
    a, b = _build(node.left, names), _build(node.right, names)
    op = type(node.op)
    return {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
            ast.Div: lambda: a / b, ast.Pow: lambda: a ** b}[op]()
