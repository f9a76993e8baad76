"""The IR between the maths and the code (issue #23, item 3): oracle terms are typed nodes, printed by one printer.

Two checks. No module of :mod:`blrkit.derive` but the printer writes array code as a string (an AST walk over
their string constants, docstrings aside). And every node kind declares what it reads and writes truthfully: its
printed code, parsed by :mod:`ast` (independent of the declarations), assigns exactly the names the node says it
writes and reads no name it does not declare (the Array API namespace and the step's dtype aside).
"""

import ast
import re
from pathlib import Path

import pytest
import sympy as sp

import blrkit.derive
from blrkit.derive import ir
from blrkit.derive.printing import node_code

DERIVE = Path(blrkit.derive.__file__).parent
#: array code: a call through the namespace, a draw, a device move, an oracle call at the mean
CODE = re.compile(r"\bxp\.\w+\(|\bon_device\(|\brng\.\w+\(|\b(grad|hess)\w*\((m|theta)\)")
#: names an emitted step has before its oracle terms: the namespace, the dtype, modules and helpers
AMBIENT = {"xp", "dtype", "math", "np", "device", "on_device", "digamma", "logsumexp", "range", "max", "bool",
           "ValueError"}


def _docstrings(tree) -> set:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def test_no_module_of_derive_writes_oracle_code_as_a_string():
    found = []
    for path in sorted(DERIVE.rglob("*.py")):
        if path.name == "printing.py":  # the one code printer
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        found += [f"{path.name}:{n.lineno}: {n.value[:60]!r}" for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
                  and CODE.search(n.value)]
    assert not found, "array code typed as a string outside the printer:\n" + "\n".join(found)


m, theta, z_mask, eps, sd = sp.symbols("m theta z_mask eps slab_sd")
y, eta, th1 = sp.Symbol("y"), sp.Symbol("eta"), sp.Symbol("theta", real=True)
r = ir.Operand("r", "ik")
#: one node of every kind (the test below checks the list is complete)
NODES = [
    ir.Comment("a comment\nover two lines"),
    ir.Let("d1", sp.exp(eta) - y, like="eta"), ir.Let("d2", sp.Integer(2), like="eta"),
    ir.Let("s", sp.Symbol("ess") * (sp.Symbol("h_avg") + sp.Symbol("weight_decay")), matrix=True),
    ir.Constant("rho", sp.Rational(1, 2)),
    ir.Count(("N", "D"), "X", (-2, -1)), ir.Count(("N",), "y", (-1,), "number of observations"),
    ir.LabelCheck("y", "logistic", "labels are {0, 1}"),
    ir.OracleCall(("g",), "grad", m), ir.OracleCall(("E_H",), "hess", theta, average=True),
    ir.OracleCall(("g_sum", "g_sq"), "grad_sums", theta),
    ir.OracleCall(("g_noise",), "grad_batch", sp.Mul(z_mask, sp.Add(m, sp.Mul(sd, eps, evaluate=False),
                                                                     evaluate=False), evaluate=False)),
    ir.OracleCall(("E_sg",), "grad_mean", sp.Symbol("w"), average=True, log_weight="log_s", divisor="tau"),
    ir.Alias("g_batch", "g_sum"), ir.Alias("E_h", "g_sq", average=True),
    ir.DeviationMean("g_dev", "g_theta", "theta", "m"),
    ir.Select(("a_K", "b_K"), ("a_k", "b_k")),
    ir.Sample("eps", "normal", "m"), ir.Sample("z_mask", "bernoulli", "m", draws=None, prob="keep_prob"),
    ir.Sample("u", "uniform", "lam"),
    ir.FamilySample("theta", "gamma", (sp.Symbol("alpha"), 1 / sp.Symbol("beta")), ("alpha", "beta")),
    ir.FamilyQuadrature("dmu_mc", "theta", "u", sp.exp(sp.Symbol("u")), sp.Symbol("u"),
                        -sp.Symbol("beta") * sp.Symbol("theta"), sp.sin(sp.Symbol("theta")),
                        (sp.Symbol("theta"), sp.log(sp.Symbol("theta"))), 8, 0.9, ("alpha", "beta")),
    ir.FamilyQuadrature("dmu_mc", "theta", "u", sp.pi * sp.Symbol("u"), sp.Integer(0),
                        sp.Symbol("kappa") * sp.cos(sp.Symbol("theta")), sp.Symbol("theta")**2,
                        (sp.cos(sp.Symbol("theta")), sp.sin(sp.Symbol("theta"))), 8, None, ("kappa",)),
    ir.Cholesky("L", "S"), ir.Reparameterise("theta", "m", "eps", "cholesky", "L"),
    ir.Reparameterise("theta", "m", "eps", "diagonal", "s"), ir.Reparameterise("theta", "m", "eps", "identity"),
    ir.Relaxation("w", "lam", "tau", "log_s"), ir.Sign("w", "lam"),
    ir.LinearPredictor("eta", "X", "theta"),
    *(ir.GlmSum(f"t_{k}", k, "d1", average=True) for k in ir.GLM_SUMS),
    ir.Quadrature(20, "S"), ir.Quadrature(20, "s", diagonal=True),
    ir.QuadratureSum("d1", sp.exp(eta) - sp.Symbol("y_nodes")),
    ir.Enumeration("dmu", "lam", "loss"),
    ir.Contraction("N_k", "k", r), ir.Contraction("s_k", "kd", r, ir.Operand("X", "id")),
    ir.Contraction("C_k", "ke", r, ir.Operand("XX", "ie"), shape="N_k"),
    ir.Contraction("S_kw", "kw", ir.Operand("t", "dk"), ir.Operand("n", "dw", "norm"), times="b", note="Σ_d"),
    ir.LogMeanParameter("e", "lam"),
    ir.LocalFixedPoint("gamma", "beta", "counts", "alpha", "cap", "tol"),
    ir.Responsibilities("r", "lam", "log_norm", "note"),
    ir.PairingLogits("lam", "X", "XX", "eta_1", "eta_2", "c"),
    ir.MixtureLogDensity("theta", "m", "S", "v", "L"),
    ir.LogDet("logdet_S", "S"),
    ir.Components(("theta_1", "theta_2"), "m", (0, 1)), ir.Components(("S_1_2",), "S", ((0, 1),)),
    ir.Zeros("zero", "m"), ir.Inverse("Sigma", "S"),
    ir.Stack("g", (th1 ** 2, -th1)), ir.Stack("H", ((th1, sp.Integer(0)), (sp.Integer(0), th1)), average=True),
    ir.ScoreFunction("dmu_mc", "theta", sp.sin(th1), (th1, sp.log(th1)), (sp.Symbol("alpha"),),
                     ((sp.Symbol("alpha"),),)),
]


def test_every_node_kind_is_exercised():
    kinds = {c for c in ir.Node.__subclasses__()}
    assert kinds == {type(n) for n in NODES}


def _stored_and_loaded(code: str):
    """Names the code assigns and names it reads, its loop and generator variables aside."""
    tree = ast.parse(code)
    local = {n.id for c in ast.walk(tree) if isinstance(c, (ast.comprehension, ast.For))
             for n in ast.walk(c.target) if isinstance(n, ast.Name)}
    stored, loaded = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in local:
            (stored.add if isinstance(node.ctx, ast.Store) else loaded.add)(node.id)
    return stored, loaded


@pytest.mark.parametrize("node", NODES, ids=lambda n: type(n).__name__)
def test_a_node_reads_and_writes_what_it_declares(node):
    stored, loaded = _stored_and_loaded("\n".join(node_code(node)))
    assert stored == set(node.writes)
    assert loaded - set(node.writes) - AMBIENT <= set(node.reads)
