"""Generated bad input over blrkit.derive's public API, the families and ``blrkit derive`` (issue #27).

Hypothesis (derandomised, few examples, no deadline) draws arguments of :func:`blrkit.derive.derive` (family,
loss as a SymPy expression built from extreme numbers and θ, prior, approximations with any ρ text, rule), of the
families' maps (λ, μ, θ and the standard parameters replaced by NaN, inf, huge, complex, text, wrong shapes, λ
scaled to overflow or to the domain's boundary) and of ``blrkit derive`` on the command line (in-process through
``blrkit.cli.main``). The property (:mod:`fuzz_checks`): only a ValueError or TypeError raised by blrkit escapes,
its message names the argument, nothing returned holds NaN or inf, no caller array changes, and each call ends in
under :data:`TIME_LIMIT` seconds (SymPy must not hang).

The compiled step (``Derivation.compile()``) is called with generated bad arrays, numbers and callables in place of
each of its arguments, for four derivations whose arguments cover every role (a mean, a precision, ρ, a state
declared positive, hyperparameters, callables, counts, a Generator). ``rho=1e-400`` and ``1e-320`` are among the ρ
texts, and a non-Gaussian family's loss is drawn from the same extreme numbers as a Gaussian's (``1e308*theta**2``
for a Gamma factored a 308-digit number for minutes; now refused at once). The prior, ``approximations``,
``function_name``, ``title`` and ``anchor`` cases this fuzz found are fixed at derive()'s entry
(tests/derive/test_errors.py keeps them), and a loss in π, which emitted ``xp.(1/pi)``, is
tests/derive/test_engine.py's ``test_a_loss_in_pi_emits_code_that_runs_and_agrees_with_the_closed_form``.
"""

import ast
import contextlib
import io
import os
import re
import warnings

import numpy as np
import pytest
import sympy as sp

hypothesis = pytest.importorskip("hypothesis")  # a test extra: generates the bad inputs
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from blrkit.cli import main  # noqa: E402
from blrkit.derive import Derivation, OracleLoss, StepSize, derive, glm_loss  # noqa: E402
from blrkit.families import FAMILIES, FixedCovarianceGaussian, MultivariateGaussian  # noqa: E402
from fuzz_checks import cpu_time_limit, float_arrays, given_arrays, raised_by_blrkit  # noqa: E402

#: seconds one call may take: the slowest valid call here takes ~1.5 s (a Gamma with a non-conjugate loss)
TIME_LIMIT = 10.0
EXAMPLES = int(os.environ.get("BLRKIT_FUZZ_EXAMPLES", 12))  # more to explore, not in the suite
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def time_limit(seconds=TIME_LIMIT):
    return cpu_time_limit(seconds)


def check(call, label, names, arrays=()):
    """The property for one call: a named ValueError/TypeError of blrkit's own (its message holding one of
    ``names``), or a result without NaN or inf; the ``arrays`` given unchanged; within the time limit.
    Returns the result (None after an error)."""
    before = [(a, a.copy()) for v in arrays for a in given_arrays(v)]
    out = None
    try:
        with time_limit(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NumPy's warnings on the way to an error are not the property
            out = call()
    except (ValueError, TypeError) as e:
        assert raised_by_blrkit(e), f"{label} let an internal error escape: {e!r:.300}"
        assert any(n in str(e) for n in names), f"{label}: the message names none of {names}: {e}"
    else:
        for a in float_arrays(out):
            assert np.all(np.isfinite(a)), f"{label} returned NaN or inf"
    for a, copy in before:
        assert np.array_equal(a, copy, equal_nan=a.dtype.kind in "fc"), f"{label} changed the caller's array"
    return out


# -- derive -------------------------------------------------------------------------------------------------------
T1, T2 = sp.Symbol("theta_1", real=True), sp.Symbol("theta_2", real=True)
THETA = sp.Symbol("theta", positive=True)
#: numbers at float64's edges and beyond, as SymPy numbers
NUMBERS = st.one_of(st.sampled_from([sp.Integer(0), sp.Integer(1), sp.Integer(-3), sp.Rational(1, 3),
                                     sp.Float("1e308"), sp.Float("1e-320"), sp.Integer(10)**400, sp.nan, sp.oo,
                                     sp.zoo, sp.I, sp.exp(1000), sp.exp(-1000), sp.exp(sp.exp(sp.exp(10)))]),
                    st.floats(allow_nan=False, allow_infinity=False).map(sp.Float))
def _safely(op):
    """``op`` of SymPy expressions, or complex infinity where SymPy itself divides by zero (0.0**-1)."""
    def apply(args):
        try:
            return op(*args) if isinstance(args, tuple) else op(args)
        except ZeroDivisionError:
            return sp.zoo
    return apply


def _expressions(symbols, numbers=NUMBERS):
    """SymPy expressions in ``symbols``: sums, products, quotients, small powers, exp and log of numbers and θ."""
    leaves = st.one_of(st.sampled_from(symbols), numbers)

    def grow(inner):
        return st.one_of(st.tuples(inner, inner).map(_safely(lambda a, b: a + b)),
                         st.tuples(inner, inner).map(_safely(lambda a, b: a * b)),
                         st.tuples(inner, inner).map(_safely(lambda a, b: a / b)),
                         st.tuples(inner, st.integers(-3, 4)).map(_safely(lambda a, b: a ** b)),
                         inner.map(_safely(sp.exp)), inner.map(_safely(sp.log)))
    return st.recursive(leaves, grow, max_leaves=4)


GAUSSIANS = ["multivariate-gaussian", "diagonal-gaussian", "gaussian-fixed-covariance"]
APPROX_KEYS = ["delta", "fixed-covariance", "stochastic", "gauss-newton", "rho=1", "nope", "", " delta"]
#: ρ as text: any float's repr, fractions, and text that is no number
RHO_TEXT = st.one_of(st.floats().map(repr), st.fractions().map(str),
                     st.sampled_from(["1/0", "0", "-1", "nan", "inf", "x", "1/3/0", "0.5j", "(1", "10**10**10", "1e-400",
                                      "1e-320",
                                      "1" * 5000, "__import__('os')"]))
APPROXIMATIONS = st.lists(st.one_of(st.sampled_from(APPROX_KEYS), RHO_TEXT.map(lambda r: "rho=" + r),
                                    st.sampled_from([StepSize("1/2"), 1.5, None, b"delta"])), max_size=3)


@st.composite
def derive_requests(draw, which):
    """``(family, loss, prior, approximations, rule)``: ``which`` of them bad or extreme, the others usual."""
    family = draw(st.sampled_from(GAUSSIANS + ["beta", "gamma"]))
    loss, prior, approx, rule = None, None, ["delta"] if family in GAUSSIANS else ["rho=1"], "blr"
    if which == "family":
        family = draw(st.sampled_from([None, 3, "", "nope", "Beta", b"beta", ["beta"], np.nan, sp.Symbol("x")]))
    elif which == "loss":
        if family in GAUSSIANS:
            loss = draw(st.one_of(_expressions([T1, T2]), st.sampled_from(
                [1, 1.5, np.nan, "theta_1**2", [T1], sp.Matrix([T1]), sp.Symbol("theta_0", real=True), T1 > 1,
                 sp.Function("f")(T1), sp.Abs(T1), OracleLoss(), glm_loss("logistic")])))
        else:
            family, approx = "gamma", ["rho=1/2"]
            loss = draw(st.one_of(_expressions([THETA]), st.sampled_from([sp.Symbol("x") * THETA, 2.0, "theta"])))
    elif which == "prior":
        prior = draw(st.sampled_from(["isotropic", "none", "Isotropic", "", "none "]))
    elif which == "approximations":
        approx = draw(st.one_of(APPROXIMATIONS, st.sampled_from(["delta", "rho=1/2"])))
    else:
        rule = draw(st.sampled_from(["improved", "x", None, 1]))
    return family, loss, prior, approx, rule


#: the words that name each argument of derive() (a loss is named by what is wrong with it)
DERIVE_NAMES = {
    "family": ("family",), "loss": ("loss", "θ", "theta", "GLM", "Likelihood"), "prior": ("prior",),
    "approximations": ("approximation", "rho", "applies", "apply", "give"), "rule": ("rule", "improved"),
}
NAN_OR_INF = {"nan", "inf", "zoo", "oo"}


def check_derivation(d: Derivation, label: str):
    """Every printed form and the emitted step of a derivation that succeeded: no NaN, ∞ or complex infinity in the
    code, and it compiles."""
    with time_limit():
        for show in (d.latex, d.markdown, d.text):
            assert show() and show(steps=False)
        code = d.emit()
        assert callable(d.compile())
    nodes = list(ast.walk(ast.parse(code)))
    names = {getattr(n, "id", None) for n in nodes} | {getattr(n, "attr", None) for n in nodes}
    assert not names & NAN_OR_INF, f"{label} emits a step computing with NaN or inf"


@pytest.mark.parametrize("which", sorted(DERIVE_NAMES))
def test_derive_refuses_bad_requests_by_name_and_prints_what_it_derives(which):
    @FUZZ
    @given(derive_requests(which))
    def run(request):
        family, loss, prior, approx, rule = request
        label = f"derive({family!r:.40}, {loss!r:.60}, {prior!r}, {approx!r:.80}, rule={rule!r})"
        d = check(lambda: derive(family, loss, prior, approx, rule=rule), label, DERIVE_NAMES[which])
        if d is not None:
            check_derivation(d, label)

    run()


# -- the compiled step: bad arguments are refused by name, outputs are finite, inputs never change --------------------
def _grad(m):
    return 2 * m


def _hess(m):
    return 2 * np.broadcast_to(np.eye(m.shape[-1]), (*m.shape, m.shape[-1]))


def _steps():
    """Four compiled steps whose arguments hold every role, and valid arguments of each."""
    from blrkit.derive import RECIPES

    m, S, rng = np.array([0.5, -1.0]), np.array([[2.0, 0.5], [0.5, 1.0]]), np.random.default_rng(0)
    return {
        "quartic": (derive("multivariate-gaussian", T1**2 + T1 * T2 + T2**4, None, ["delta"]).compile(),
                    dict(m=m, S=S, rho=0.5)),
        "gradient-descent": (derive("gaussian-fixed-covariance", None, None, ["delta"]).compile(),
                             dict(m=m, rho=0.5, grad=_grad)),
        "variational-newton": (RECIPES["variational_newton"].derive().compile(),
                               dict(m=m, S=S, rho=0.5, grad=_grad, hess=_hess, n_samples=2, rng=rng)),
        "rmsprop": (RECIPES["rmsprop"].derive().compile(),
                    dict(m=m, v=np.zeros(2), rho=0.1, lr=0.1, eps=1e-8, grad_mean=_grad)),
    }


STEPS = _steps()
BAD_ARRAYS = [np.array([np.nan, 1.0]), np.array([np.inf, 1.0]), np.ones(3), np.array([[1.0, 3.0], [0.0, 1.0]]),
              np.array([[1.0, 2.0], [2.0, 1.0]]), np.array([1 + 1j, 0.0]), np.array([1, 2], dtype=np.int8),
              np.full(2, 1e200), np.zeros((2, 0)), np.ones((3, 2)), -np.ones(2), np.zeros(2), np.full((2, 2), 1e-320)]
#: values of any kind, for any argument (1e-400 is 0.0 by the time Python reads it)
BAD_VALUES = BAD_ARRAYS + [None, "0.1", 1 + 1j, 2**70, -1, 0, 2.5, True, np.nan, 1e-400, 1.5, [0.5, "a"],
                           np.float16(0.5), np.array([1, 2], dtype=object), np.random.RandomState(0)]


@FUZZ
@given(st.sampled_from(sorted(STEPS)), st.data())
def test_the_compiled_step_refuses_bad_arguments_by_name_and_never_changes_them(key, data):
    """Any argument replaced by a bad value (a callable by one returning it): a ValueError or TypeError naming the
    argument (or the callable), or a finite result; the caller's arrays unchanged."""
    step, valid = STEPS[key]
    kwargs = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in valid.items()}
    name = data.draw(st.sampled_from(sorted(kwargs)))
    bad = data.draw(st.sampled_from(BAD_VALUES))
    if callable(valid[name]) and data.draw(st.booleans()):
        kwargs[name] = lambda *args, bad=bad: bad
    else:
        kwargs[name] = bad
    label = f"{key} step with {name}={kwargs[name]!r:.80}"
    check(lambda: step(**kwargs), label, (name,), arrays=[kwargs])


# -- the families ------------------------------------------------------------------------------------------------------
FAMILY_KEYS = ["beta", "gamma", "gaussian", "diagonal-gaussian", "multivariate-gaussian", "categorical", "bernoulli",
               "dirichlet", "poisson"]
POINTS = {k: FAMILIES[k]().random_natural(np.random.default_rng(0)) for k in FAMILY_KEYS + ["normal-gamma"]}
#: a θ in each family's support
THETAS = {"beta": [0.3], "gamma": [2.0], "gaussian": [0.5], "diagonal-gaussian": [0.5, -1.0],
          "multivariate-gaussian": [0.5, -1.0], "categorical": [0.0, 1.0], "bernoulli": [1.0],
          "dirichlet": [0.2, 0.3, 0.5], "poisson": [3.0]}
#: values that replace an argument whatever it is
BAD = [np.nan, np.inf, -1.0, 0.0, 1e308, 2**70, True, None, "0.1", 1 + 1j, [np.nan], np.ones(7), np.zeros((0,)),
       np.ones((2, 2, 2)), np.array([[1.0, 3.0], [0.0, 1.0]]), np.array([[1.0, 2.0], [2.0, 1.0]]), ["a", "b"],
       np.array([1 + 0j]), np.array([1e200, -1e200]), np.array([1, 2], dtype=object)]
#: changes of a valid λ: past float64 (1e200), to the domain's boundary (1e-300), out of it, NaN, complex, short
LAM_CHANGES = [lambda a: a * 1e200, lambda a: a * 1e-300, lambda a: -a, lambda a: np.where(np.arange(a.size) == 0,
               np.nan, a), lambda a: a + 1j, lambda a: a[:-1]]
METHODS = ["to_standard", "to_expectation", "log_partition_value", "fisher_information", "from_expectation",
           "entropy_value", "statistics_value", "kl_value", "log_density_value", "to_natural", "in_domain"]


@pytest.mark.parametrize("key", FAMILY_KEYS)
def test_family_maps_refuse_bad_parameters_by_name(key):
    FUZZ(given(st.sampled_from(METHODS), st.data())(lambda method, data: check_family_map(key, method, data)))()


def check_family_map(key, method, data):
    q = FAMILIES[key]()
    lam = POINTS[key]
    value = data.draw(st.one_of(st.sampled_from(BAD), st.sampled_from(LAM_CHANGES).map(lambda f: f(lam))))
    if method == "to_natural":
        std = q.to_standard(lam)
        name = data.draw(st.sampled_from(sorted(std)))
        args, kwargs, names = (), {**std, name: value}, (name, "standard parameters")
    elif method == "kl_value":
        args, kwargs, names = (lam, value), {}, ("lam_p",)
    elif method == "log_density_value":
        args = (value, lam) if data.draw(st.booleans()) else (THETAS[key], value)
        kwargs, names = {}, ("theta", "lam", "batch shapes")
    else:
        args, kwargs = (value,), {}
        names = {"from_expectation": ("mu",), "statistics_value": ("theta",)}.get(method, ("lam",))
    label = f"{key}.{method}(*{args!r:.120}, **{kwargs!r:.120})"
    out = check(lambda: getattr(q, method)(*args, **kwargs), label, names, arrays=[args, kwargs])
    if method == "in_domain" and out is not None:  # None: λ that is not an array of numbers is a TypeError
        assert out in (True, False)


@pytest.mark.parametrize("factory, size", [(f, s) for f in (MultivariateGaussian, FAMILIES["diagonal-gaussian"],
                                                            FAMILIES["categorical"], FAMILIES["dirichlet"],
                                                            FAMILIES["gaussian-mixture"])
                                           for s in (0, -1, 1.5, True, None, "2", [2], np.array(2), 2**70, 10**6)])
def test_family_sizes_are_checked_by_name(factory, size):
    check(lambda: factory(size), f"{factory.__name__}({size!r})", ("D", "K"))


# -- blrkit derive on the command line ------------------------------------------------------------------------------
#: text a user might type as a loss: pieces of arithmetic in θ and y, numbers at float64's edges, bad syntax
LOSS_TEXT = st.lists(st.sampled_from(["theta", "theta_1", "theta_2", "y", "x", "2", "1e400", "1e-400", "10", "**",
                                      "*", "/", "+", "-", "(", ")", "exp(", "log(", "factorial(", "gamma(", "0", ".5",
                                      "^", "10**10**10", "theta_99999", "j", "__import__", "'", ","]),
                     min_size=1, max_size=8).map("".join)


@st.composite
def command_lines(draw):
    family = draw(st.sampled_from(GAUSSIANS + ["beta", "gamma", "nope", "categorical+gaussian"]))
    argv = ["derive", family]
    for option, values in (("--loss", st.one_of(LOSS_TEXT, st.sampled_from(["quadratic", "oracle", "conjugate"]))),
                           ("--glm", st.one_of(LOSS_TEXT.map(lambda t: t.replace("theta", "eta")),
                                               st.sampled_from(["logistic", "nope"]))),
                           ("--approx", st.one_of(st.sampled_from(APPROX_KEYS), RHO_TEXT.map(lambda r: "rho=" + r))),
                           ("--prior", st.sampled_from(["isotropic", "none", "bogus"])),
                           ("--rule", st.sampled_from(["improved", "x"])),
                           ("--format", st.sampled_from(["python", "latex", "x"]))):
        if draw(st.integers(0, 3)) == 0:
            argv += [option, draw(values)]
    return argv


OPTIONS = ("--loss", "--glm", "--approx", "--prior", "--rule", "--format", "FAMILY", "family", "loss", "rho",
           "approximation", "prior")


def run_cli(argv):
    """``(status, stdout, stderr)`` of ``blrkit ARGV`` in this process (argparse's exit is its status)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), time_limit():
        try:
            status = main(argv)
        except SystemExit as e:
            status = e.code
    return status, out.getvalue(), err.getvalue()


@settings(FUZZ, max_examples=3 * EXAMPLES)
@given(command_lines())
def test_blrkit_derive_answers_bad_use_with_one_named_line(argv):
    status, out, err = run_cli(argv)
    assert status in (0, 2), (argv, status, err)
    if status == 0:
        assert out and not err, (argv, err)
    elif err.startswith("blrkit: error: "):  # blrkit's own refusal: one line naming the option
        assert len(err.strip().splitlines()) == 1 and any(o in err for o in OPTIONS), (argv, err)
    else:  # argparse's: the usage, then the error naming the option
        assert "error: argument" in err, (argv, err)


# -- the defects this fuzz found, closed since ------------------------------------------------------------------------
@pytest.mark.parametrize("text, reason", [
    ("factorial(10**10)*theta", r"factorial\(10000000000\) is beyond float64's range"),
    ("gamma(-10**10 + 1/2)*theta", r"gamma\(-19999999999/2\) is beyond float64's range"),
    ("exp(exp(exp(10)))*theta", r"exp\(exp\(10\)\) = e\*\*2.20E\+4 overflows"),
])
def test_closed_loss_texts_that_never_ended(text, reason):
    """They ran for minutes (factorial's every digit; exp(exp(22026)) evaluated to 20 digits, then Python's 4300-digit
    error) and now are refused at once, on the command line as in Python."""
    status, out, err = run_cli(["derive", "gamma", "--loss", text, "--approx", "rho=1/2"])
    assert status == 2 and not out
    assert err.startswith("blrkit: error: --loss: ") and re.search(reason, err), err


@pytest.mark.parametrize("call, names, message", [
    (lambda: MultivariateGaussian(4), ("D",), "D must be an integer <= 3"),  # took 30 s (D = 5: minutes)
    (lambda: FAMILIES["categorical"](101), ("K",), "K must be an integer <= 100"),
    (lambda: MultivariateGaussian([2]), ("D",), "D must be an integer >= 1, got [2]"),  # was 'unhashable type'
    (lambda: FAMILIES["dirichlet"](np.array(3)), ("K",), "K must be an integer >= 2"),
    (lambda: FixedCovarianceGaussian(2, sigma2=None), ("sigma2",), "sigma2 must be a real number"),  # SymPy's error
    (lambda: FixedCovarianceGaussian(2, sigma2=[1.0, 2.0]), ("sigma2",), "sigma2 must be a single number"),
    # each returned inf or NaN: λ next to the domain's boundary, θ or m past float64
    (lambda: FAMILIES["gaussian"]().to_expectation(POINTS["gaussian"] * 1e-300), ("lam",), "∇A(λ) of"),
    (lambda: FAMILIES["gamma"]().fisher_information(POINTS["gamma"] * 1e-300), ("lam",), "F(λ)"),
    (lambda: FAMILIES["gaussian"]().entropy_value(POINTS["gaussian"] * 1e-300), ("lam",), "entropy"),
    (lambda: FAMILIES["multivariate-gaussian"]().statistics_value([1e200, -1e200]), ("theta",), "T(θ)"),
    (lambda: FAMILIES["diagonal-gaussian"]().log_density_value([1e200, -1e200], POINTS["diagonal-gaussian"]),
     ("theta",), "log q(θ)"),
    (lambda: FAMILIES["normal-gamma"]().to_natural(m=1e308, kappa=1.0, alpha=2.0, beta=1.0), ("m",), "λ of"),
])
def test_closed_family_cases(call, names, message):
    with pytest.raises((ValueError, TypeError)) as e:
        check(call, message, names)
        call()
    assert message in str(e.value)


@pytest.mark.parametrize("loss, reason", [
    (sp.exp(sp.Float(1e308)) * T1, "the number 1.05e+4342944819"),  # was decimal.InvalidOperation formatting it
    (sp.exp(sp.exp(sp.exp(10))) * T1, "exp(exp(10)) = e**2.20E+4 overflows"),  # ran for minutes
])
def test_closed_sympy_losses(loss, reason):
    with pytest.raises(ValueError) as e:
        check(lambda: derive("multivariate-gaussian", loss, None, ["delta"]), reason, ("loss",))
        derive("multivariate-gaussian", loss, None, ["delta"])
    assert reason in str(e.value)
