"""``blrkit derive``: every output format, ``--list`` and every error path (exit 2, one line)."""

import pytest
from cli._run import assert_usage_error, run_blrkit

NEWTON = ("derive", "multivariate-gaussian", "--approx", "delta", "--approx", "rho=1")


@pytest.mark.parametrize("fmt, marker", [("latex", r"\begin{align*}"), ("markdown", "$$"),
                                         ("text", "Sₜ₊₁ = ∇²ℓ(mₜ)"), ("python", "def blr_step(")])
def test_formats(fmt, marker):
    rc, out, err = run_blrkit(*NEWTON, "--format", fmt)
    assert rc == 0 and err == ""
    assert marker in out
    if fmt == "python":
        compile(out, "<emitted>", "exec")


def test_steps_print_the_whole_derivation():
    _, short, _ = run_blrkit(*NEWTON)
    rc, full, _ = run_blrkit(*NEWTON, "--steps")
    assert rc == 0 and len(full.splitlines()) > len(short.splitlines())


def test_named_and_expression_losses():
    rc, out, err = run_blrkit("derive", "multivariate-gaussian", "--approx", "rho=1", "--loss", "quadratic")
    assert rc == 0 and "α I" in out, err
    rc, out, err = run_blrkit("derive", "beta", "--approx", "rho=1",
                              "--loss=-(y*log(theta) + (1 - y)*log(1 - theta))", "--format", "latex")
    assert rc == 0 and r"\alpha_{t+1}" in out, err


def test_list():
    rc, out, _ = run_blrkit("derive", "--list")
    assert rc == 0
    for name in ("multivariate-gaussian", "beta", "delta", "rho=1", "fixed-covariance", "stochastic", "quadratic"):
        assert name in out


@pytest.mark.parametrize("args, says", [
    (("nope",), "unknown family"),
    (("beta", "--approx", "zzz"), "unknown approximation"),
    (("beta", "--loss", "theta+*y"), "cannot parse"),
    (("beta", "--loss", "q*theta"), "unknown symbol"),
    (("beta", "--loss", "theta**2*y"), "not conjugate"),
    (("beta", "--approx", "delta"), "does not apply"),
    (("gamma", "--loss", "quadratic"), "Gaussian families"),
    (("multivariate-gaussian", "--loss", "foo"), "unknown loss"),
    (("multivariate-gaussian", "--prior", "default"), "no separate prior"),
    (("beta", "--prior", "none"), "prior"),
    (("poisson",), "no conjugate likelihood"),
    (("diagonal-gaussian", "--loss", "linear-gaussian"), "cannot derive"),
    ((), "give a FAMILY"),
])
def test_errors(args, says):
    rc, out, err = run_blrkit("derive", *args)
    assert_usage_error(rc, out, err)
    assert says in err and out == ""


def test_argparse_errors_exit_2():
    rc, _, err = run_blrkit("derive", "beta", "--format", "html")
    assert rc == 2 and "Traceback" not in err
