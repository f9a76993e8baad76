"""``blrkit derive … --ladder``: the update after each approximation in turn, in every format; a request
that is not a chain, and the options that make no sense with it, are usage errors (exit 2, one line)."""

import pytest
from cli._run import assert_usage_error

from blrkit.cli import main

NEWTON = ("derive", "multivariate-gaussian", "--approx", "delta", "--approx", "rho=1", "--ladder")


def test_ladder_from_the_command_line(capsys):
    """Three rungs (exact BLR, + delta, + ρ = 1); ρ = 1 removes (1 - ρ)S_t, marked in the text. (In process:
    the subprocess path of ``blrkit derive`` is tested in test_derive_cmd.py.)"""
    rc = main(list(NEWTON))
    out, err = capsys.readouterr()
    assert rc == 0 and err == "", err
    heads = [line for line in out.splitlines() if line[:2] in ("0.", "1.", "2.")]
    assert [h.split(":")[-1].strip() for h in heads] == ["Variational Newton", "Damped BLR-Newton", "Newton's method"]
    assert "Sₜ₊₁ = ρ ∇²ℓ(mₜ) + [-(1 - ρ) Sₜ-]" in out


@pytest.mark.parametrize("fmt, marker", [("latex", r"{\color{red}{"), ("markdown", r"{\color{red}{"),
                                         ("beamer", r"\begin{frame}")])
def test_ladder_formats(fmt, marker, capsys):
    assert main([*NEWTON, "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert marker in out
    if fmt == "beamer":
        assert out.count(r"\begin{frame}") == 4 and out.rstrip().endswith(r"\end{document}")


@pytest.mark.parametrize("args, says", [
    (("derive", "categorical+gaussian", "--approx", "delta", "--approx", "rho=1", "--ladder"),
     "do not form a chain: its prefix (delta) does not derive"),
    (("derive", "multivariate-gaussian", "--ladder"), "no approximations"),
    ((*NEWTON, "--format", "python"), "drop --format python"),
    ((*NEWTON, "--steps"), "drop --steps"),
    (("derive", "multivariate-gaussian", "--approx", "delta", "--format", "beamer"), "add --ladder"),
])
def test_ladder_usage_errors(args, says, capsys):
    assert main(list(args)) == 2
    captured = capsys.readouterr()
    assert_usage_error(2, captured.out, captured.err)
    assert says in captured.err
