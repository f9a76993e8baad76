r"""The update syntax of :func:`blrkit.identify`: assignments read without running Python.

An update is one or more assignments ``name = expression``, separated by ``;`` or new lines::

    m_new = m - lr * g / (sqrt(v_new) + eps); v_new = b2 * v + (1 - b2) * g**2

The left-hand side of a state ``x``'s new value is ``x_new``; any other left-hand side is an
intermediate term, substituted where it is used.  An expression is arithmetic (``+ - * / **``,
``^`` for ``**``) on numbers and names, and calls of :data:`FUNCTIONS`: ``sqrt``, ``exp``, ``log``,
``abs``, ``inv`` (the reciprocal, or a matrix inverse), ``diag`` (a matrix's diagonal part,
:math:`\operatorname{diag}(H)`; a vector or a number is its own) and ``sum`` (a sum over the data,
``sum(y**2)`` for :math:`\sum_i y_i^2`).  The search reads the update in one dimension, where a
product's order and ``diag`` are not seen (``X.T`` is not allowed; write ``X``); the numeric check
then evaluates it with matrices (:func:`parse_update` with ``ordered=True`` keeps the order of
each product), where they are.

The text is read by :mod:`ast` and checked node by node before SymPy builds anything, so no text
is ever evaluated; its size is bounded by :data:`MAX_CHARS` and :data:`MAX_NODES`.
"""

from __future__ import annotations

import ast
import re

import sympy as sp

#: a data sum: ``sum(f(y))`` is :math:`\sum_i f(y_i)`
DATA_SUM = sp.Function("sum")
#: the diagonal part of a matrix, kept as a function in the ordered reading (in one dimension it is its argument)
DIAG = sp.Function("diag")

#: the functions an update may call
FUNCTIONS = {"sqrt": sp.sqrt, "exp": sp.exp, "log": sp.log, "abs": sp.Abs, "inv": lambda x: 1 / x,
             "sum": DATA_SUM, "tanh": sp.tanh, "diag": lambda x: x}
#: the longest text read, and the most syntax nodes in it: enough for any row of Table 1 written out
MAX_CHARS = 4000
MAX_NODES = 2000
#: the largest integer exponent (``x**k``): larger powers are refused before SymPy expands them
MAX_POWER = 64

_NODES = (ast.Module, ast.Assign, ast.Name, ast.Store, ast.Load, ast.BinOp, ast.UnaryOp, ast.Call, ast.Constant,
          ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd, ast.Expr)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def parse_update(text: str, *, ordered: bool = False) -> dict[str, sp.Expr]:
    """The assignments of ``text`` as ``{left-hand side: SymPy expression}``, in their order.

    Every name becomes a plain SymPy ``Symbol``; the caller gives the names their roles.  With
    ``ordered=True`` every name is a non-commutative symbol and ``diag`` is kept (:data:`DIAG`), so
    that ``inv(S)*g`` stays :math:`S^{-1} g` for an evaluation with matrices.

    Raises
    ------
    ValueError
        One line naming the part that is not an assignment, an unknown function, a disallowed
        construct, a name assigned twice, or text too long.

    Examples
    --------
    >>> parse_update("v_new = b2*v + (1 - b2)*g^2; m_new = m - lr*g/(sqrt(v_new) + eps)")
    {'v_new': b2*v + g**2*(1 - b2), 'm_new': -g*lr/(eps + sqrt(v_new)) + m}
    >>> parse_update("m_new = m - open(g)")
    Traceback (most recent call last):
    ...
    ValueError: update: 'open' is not a known function; the functions are abs, diag, exp, inv, log, sqrt, sum, tanh
    >>> parse_update("S_new = (1 - r)*S + r*diag(H); m_new = m - r*inv(S_new)*g", ordered=True)["m_new"]
    m - r*S_new**(-1)*g
    """
    if not isinstance(text, str):
        raise TypeError(f"update must be a str, a dict or a sequence of sympy.Eq, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ValueError(f"update: the text has {len(text)} characters, more than the {MAX_CHARS} read")
    if not text.strip():
        raise ValueError("update: the text is empty; write assignments such as 'm_new = m - lr*g'")
    source = "\n".join(part.strip() for part in re.split(r"[;\n]", text.replace("^", "**")) if part.strip())
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as e:
        line = source.splitlines()[e.lineno - 1].strip() if e.lineno else text
        raise ValueError(f"update: cannot parse {line!r} ({e.msg})") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ValueError(f"update: {len(nodes)} syntax nodes, more than the {MAX_NODES} read")
    out: dict[str, sp.Expr] = {}
    for stmt in tree.body:
        part = ast.unparse(stmt)
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            raise ValueError(f"update: {part!r} is not an assignment 'name = expression'")
        name = stmt.targets[0].id
        if name in out:
            raise ValueError(f"update: {name!r} is assigned twice")
        _check(stmt.value, part)
        out[name] = _build(stmt.value, ordered)
    return out


def _check(tree, part: str) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise ValueError(f"update: {type(node).__name__.lower()} is not allowed in {part!r}; "
                             "write arithmetic, names and " + ", ".join(sorted(FUNCTIONS)))
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            if name not in FUNCTIONS or node.keywords or len(node.args) != 1:
                raise ValueError(f"update: {name!r} is not a known function; the functions are "
                                 + ", ".join(sorted(FUNCTIONS)))
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool)
                                               or not isinstance(node.value, (int, float))):
            raise ValueError(f"update: only numbers may appear as constants in {part!r}")
        if isinstance(node, ast.Name) and node.id in FUNCTIONS and not _called(tree, node):
            raise ValueError(f"update: {node.id!r} is a function; call it, as {node.id}(x), in {part!r}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant) \
                and abs(node.right.value) > MAX_POWER:
            raise ValueError(f"update: the power {node.right.value} in {part!r} is larger than {MAX_POWER}")


def _called(tree, name_node) -> bool:
    return any(isinstance(n, ast.Call) and n.func is name_node for n in ast.walk(tree))


def _build(node, ordered: bool = False):
    if isinstance(node, ast.Constant):
        return sp.nsimplify(node.value) if isinstance(node.value, float) else sp.Integer(node.value)
    if isinstance(node, ast.Name):
        return sp.Symbol(node.id, commutative=False) if ordered else sp.Symbol(node.id)
    if isinstance(node, ast.UnaryOp):
        v = _build(node.operand, ordered)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call):
        f = DIAG if ordered and node.func.id == "diag" else FUNCTIONS[node.func.id]
        return f(_build(node.args[0], ordered))
    a, b = _build(node.left, ordered), _build(node.right, ordered)
    return {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
            ast.Div: lambda: a / b, ast.Pow: lambda: a ** b}[type(node.op)]()


def as_assignments(update) -> dict[str, sp.Expr]:
    """``update`` (text, ``{name: expression}`` or a sequence of ``sympy.Eq``) as plain-symbol assignments.

    SymPy input is rebuilt on plain symbols (assumptions dropped), so that names alone identify symbols.

    >>> import sympy as sp
    >>> m, g, lr = sp.symbols("m g lr", positive=True)
    >>> as_assignments([sp.Eq(sp.Symbol("m_new"), m - lr*g)])
    {'m_new': -g*lr + m}
    """
    if isinstance(update, str):
        return parse_update(update)
    if isinstance(update, dict):
        items = list(update.items())
    else:
        try:
            items = [(eq.lhs, eq.rhs) for eq in update]
        except (TypeError, AttributeError):
            raise TypeError("update must be a str, a dict {name: expression} or a sequence of sympy.Eq, "
                            f"got {type(update).__name__}") from None
    out = {}
    for lhs, rhs in items:
        name = lhs if isinstance(lhs, str) else getattr(lhs, "name", None)
        if not isinstance(name, str) or not _IDENT.match(name):
            raise ValueError(f"update: the left-hand side {lhs!r} is not a name")
        try:
            expr = sp.sympify(rhs, strict=True) if not isinstance(rhs, sp.Basic) else rhs
        except (sp.SympifyError, TypeError):
            raise ValueError(f"update: the right-hand side of {name!r} is not a SymPy expression") from None
        out[name] = plain(expr)
    return out


def plain(expr):
    """``expr`` with every symbol replaced by a plain ``Symbol`` of its name (assumptions dropped)."""
    return expr.xreplace({s: sp.Symbol(s.name) for s in expr.free_symbols if isinstance(s, sp.Symbol)})
