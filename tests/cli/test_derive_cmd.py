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


def test_engine_examples_from_the_command_line():
    """A GLM (IRLS), a loss in θ's components, a numeric step size and a non-conjugate Gamma all derive."""
    rc, out, err = run_blrkit("derive", "multivariate-gaussian", "--glm", "logistic", "--prior", "isotropic",
                              "--approx", "delta", "--approx", "rho=1", "--format", "python")
    assert rc == 0, err
    assert "d1 = expit(eta) - y" in out and "from blrkit._array_api import array_namespace, device, expit" in out \
        and "def blr_step(m, alpha, X, y):" in out
    compile(out, "<emitted>", "exec")
    rc, out, err = run_blrkit("derive", "multivariate-gaussian", "--loss",
                              "(1 - theta_1)**2 + 100*(theta_2 - theta_1**2)**2", "--approx", "delta",
                              "--approx", "rho=1/4", "--steps")
    assert rc == 0 and "Damped BLR-Newton" in out and "Loss derivatives" in out, err
    rc, out, err = run_blrkit("derive", "gamma", "--loss", "theta**2 - 3*log(theta)", "--approx", "rho=0.5",
                              "--format", "python")
    assert rc == 0 and "scipy.special.polygamma" in out and "rho" not in out.split("def ")[1].split(")")[0], err


def test_list():
    rc, out, _ = run_blrkit("derive", "--list")
    assert rc == 0
    for name in ("multivariate-gaussian", "beta", "delta", "rho=1", "fixed-covariance", "stochastic", "quadratic"):
        assert name in out


@pytest.mark.parametrize("args, says", [
    (("nope",), "unknown family"),
    (("beta", "--approx", "zzz"), "unknown approximation"),
    (("beta", "--loss", "theta+*y"), "cannot parse"),
    (("beta", "--loss", "q*theta"), "not a known symbol"),
    (("normal-gamma", "--loss", "sin(x)*y"), "no sampler"),
    (("beta", "--loss", "__import__('os').getcwd()"), "not a known function"),
    (("beta", "--loss", "theta.real"), "attribute is not allowed"),
    (("multivariate-gaussian", "--loss", "1/theta_1"), "does not exist"),
    (("multivariate-gaussian", "--loss", "abs(theta_1)", "--approx", "delta"), "not twice differentiable"),
    (("multivariate-gaussian", "--glm", "logistic", "--approx", "stochastic"), "exact Hessian"),
    (("diagonal-gaussian", "--approx", "stochastic", "--approx", "gauss-newton"), "gauss-newton first"),
    (("beta", "--approx", "rho=2"), "rho must be in (0, 1]"),
    (("gamma", "--glm", "logistic"), "needs a Gaussian family"),
    (("beta", "--approx", "delta"), "does not apply"),
    (("gamma", "--loss", "quadratic"), "Gaussian families"),
    (("multivariate-gaussian", "--loss", "foo"), "not a known symbol"),
    (("multivariate-gaussian", "--prior", "default"), "no separate prior"),
    (("beta", "--prior", "isotropic"), "Gaussian families"),
    (("poisson",), "no default likelihood"),
    (("gaussian-mixture", "--approx", "delta"), "derives with 'responsibility' and 'delta'"),
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


def test_certify_prints_the_certificate():
    """--certify: the emitted step against the numeric BLR step; exit 0 when it passes."""
    rc, out, err = run_blrkit("derive", "gamma", "--loss", "theta**2 - 3*log(theta)", "--approx", "rho=1/2",
                              "--certify")
    assert rc == 0, err
    assert "method: trapezoid rule on log θ" in out and "largest relative error" in out and out.rstrip().endswith("PASS")


def test_certify_a_path_it_cannot_compute_is_a_usage_error():
    rc, out, err = run_blrkit("derive", "categorical+gaussian", "--approx", "delta", "--approx", "rho=1", "--certify")
    assert_usage_error(rc, out, err)
    assert "no numerical certificate" in err
