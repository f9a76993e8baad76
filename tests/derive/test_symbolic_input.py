"""Symbolic input that cannot be derived is refused with its reason, fast, and never as a SymPy or Python
internal error (issue #27, "Symbolic losses" and "Work without bound").

Each case failed before: ``theta_1/0`` ended in ``KeyError: 'ComplexInfinity'``, a NaN loss or one with
``log(0)`` was called "does not depend on θ", ``1e-400`` underflowed to 0 unsaid, ``1e400`` and ``exp(1000)``
emitted a step computing with ``inf``, ``rho=1/0`` was a ZeroDivisionError, a 3,000-term loss a
RecursionError, ``theta_1**(10**10)`` and ``10**10**10*theta_1**2`` never finished, and a 30-dimensional
quadratic with the delta method took 43 s.
"""

import re
import subprocess
import sys
import time

import pytest
import sympy as sp

from blrkit.derive import DerivationError, derive
from blrkit.derive.parsing import parse_expression
from fuzz_checks import cpu_time_limit


def _parse(text):
    """A loss typed for a Gaussian, as ``blrkit derive`` reads it: θ's components are real symbols."""
    names = {"theta"} | set(re.findall(r"\btheta_\d+\b", text))
    return parse_expression(text, {n: sp.Symbol(n, real=True) for n in names})


@pytest.mark.parametrize("text, reason", [
    ("theta_1/0", "complex infinity"),
    ("log(0)*theta_1", "complex infinity"),
    ("log(0) + theta_1**2", "complex infinity"),
    ("1e400*theta_1**2", r"1e400 overflows"),
    ("1e-400*theta_1**2", r"1e-400 underflows"),
    ("exp(1000)*theta_1**2", r"exp\(1000\) .* overflows"),
    ("exp(-1000) + theta_1**2", r"exp\(-1000\) .* underflows"),
    ("10**350*theta_1", r"the number 1.00E\+350 overflows"),
])
def test_a_loss_that_is_not_a_finite_float64_number_is_refused_with_its_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        derive("multivariate-gaussian", _parse(text), None, ["delta"])


@pytest.mark.parametrize("loss, reason", [
    (sp.nan * sp.Symbol("theta_1", real=True), "NaN"),
    (sp.oo * sp.Symbol("theta_1", real=True) ** 2, "infinite"),
    (sp.zoo + sp.Symbol("theta_1", real=True) ** 2, "complex infinity"),
    (sp.I * sp.Symbol("theta_1", real=True) ** 2, "complex"),
])
def test_a_sympy_loss_given_in_python_is_checked_the_same_way(loss, reason):
    with pytest.raises(DerivationError, match=reason):
        derive("multivariate-gaussian", loss, None, ["delta"])


@pytest.mark.parametrize("text, reason", [
    ("theta_1**(10**10)", "power 10000000000 .* larger than 100"),
    ("theta_1**-200", "power -200 .* larger than 100"),
    ("10**10**10*theta_1**2", "10\\*\\*10000000000 would have 10000000001 digits"),
    (" + ".join(f"{i}*theta_1**2" for i in range(3000)), "longer than 10000 characters"),
    ("exp(" * 120 + "theta_1" + ")" * 120, "nested more than 100 deep"),
    ("-" * 5000 + "theta_1", "nested more than 100 deep"),
])
def test_parse_time_work_is_bounded(text, reason):
    start = time.process_time()  # CPU time: a loaded machine delays the call without making it do more
    with pytest.raises(ValueError, match=reason):
        _parse(text)
    assert time.process_time() - start < 1.0  # a bound, not a benchmark: before, these ran for minutes or crashed


def test_a_step_size_that_divides_by_zero_is_refused_in_python_and_on_the_command_line():
    with pytest.raises(DerivationError, match="division by zero"):
        derive("multivariate-gaussian", None, None, ["delta", "rho=1/0"])
    run = subprocess.run([sys.executable, "-m", "blrkit.cli", "derive", "multivariate-gaussian", "--approx", "delta",
                          "--approx", "rho=1/0"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr and "division by zero" in run.stderr


def test_a_loss_in_a_symbol_that_is_not_theta_is_refused_for_a_non_gaussian_family():
    """As the command line refuses it: the symbol x is neither the Gamma family's θ nor data."""
    from blrkit.derive.conjugate import I, Y, Likelihood

    x = sp.Symbol("x", positive=True)
    with pytest.raises(DerivationError, match="uses x, which is not the gamma family's θ"):
        derive("gamma", x**2, None, ["rho=1/2"])
    with pytest.raises(DerivationError, match="uses x, which is not the gamma family's θ"):
        derive("gamma", Likelihood("user-given", x * Y[I]), None, ["rho=1/2"])


def test_a_30_dimensional_quadratic_with_the_delta_method_derives_fast():
    """The component Hessian is computed once (it was rebuilt for each of its D² entries: O(D⁴))."""
    loss = _parse("theta_30**2")
    start = time.process_time()  # CPU time, as above
    d = derive("multivariate-gaussian", loss, None, ["delta"])
    assert time.process_time() - start < 2.0 and d.emit()


def test_a_step_size_that_underflows_to_zero_is_refused_in_python_and_on_the_command_line():
    """``rho=1e-400`` was accepted: an exact 1/10**400 to SymPy, 0.0 in the emitted step, which never moved."""
    import contextlib
    import io

    from blrkit.cli import main

    with pytest.raises(DerivationError, match=r"rho = 1.00E-400 underflows to 0 in a float64"):
        derive("gaussian-fixed-covariance", None, None, ["delta", "rho=1e-400"])
    assert derive("gaussian-fixed-covariance", None, None, ["delta", "rho=1e-300"]).update  # a float64 holds it
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["derive", "gaussian-fixed-covariance", "--approx", "delta", "--approx", "rho=1e-400"])
    assert status == 2 and err.getvalue().startswith("blrkit: error: --approx rho=1e-400: rho = 1.00E-400 underflows")


def _within(seconds, call):
    """``call()``, stopped with :class:`TooSlow` after ``seconds`` of CPU time."""
    with cpu_time_limit(seconds):
        return call()


_TH = sp.Symbol("theta", positive=True)


@pytest.mark.parametrize("loss, reason", [
    (sp.Float("1e308") * _TH**2, r"the float 1.00E\+308 carries 1030 bits of precision"),  # ran for minutes
    (sp.Float(1e308) * _TH**2, r"the number 1.00E\+308 is beyond 1e100 in size"),  # a float64: the same
    (sp.Float("0.1", 400) * _TH**2, r"carries 1332 bits of precision"),  # ran for minutes
    (sp.Float(2.23e-179) * _TH + _TH**2, r"the number 2.23E-179 is beyond 1e100 in size \(or its inverse is\)"),
    (sp.Integer(10)**308 * _TH**2 + _TH, r"the number 1.00E\+308 is beyond 1e100"),  # took 5 s
])
def test_numbers_whose_factorisation_would_not_end_are_refused_at_once(loss, reason):
    """The Gamma (conjugate) engine factors its gradients with the loss's numbers exactly: SymPy's factorisation ran
    for minutes on these. Refused within 2 s, before any of it; on the command line too."""
    with pytest.raises(DerivationError, match=reason):
        _within(2.0, lambda: derive("gamma", loss, None, ["rho=1/2"]))


def test_the_size_bound_of_numbers_holds_on_the_command_line_and_admits_1e100():
    import contextlib
    import io

    from blrkit.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = _within(2.0, lambda: main(["derive", "gamma", "--loss", "1e308*theta**2", "--approx", "rho=1/2"]))
    assert status == 2 and "the number 1.00E+308 is beyond 1e100" in err.getvalue()
    assert derive("gamma", sp.Integer(10)**100 * _TH**2, None, ["rho=1/2"]).update  # the bound itself is taken
