"""Bad command lines and hostile output streams: a usage error or a clean message, never a traceback."""

import io
import os
import subprocess
import sys

import pytest
from cli._run import assert_usage_error, run_blrkit

from blrkit import cli


@pytest.mark.parametrize("command", [("families", "beta"), ("table", "--rows", "ridge"), ("verify", "ridge")])
def test_a_negative_seed_is_a_usage_error(command):
    rc, out, err = run_blrkit(*command, "--seed", "-1")
    assert rc == 2 and "Traceback" not in err
    assert "--seed" in err and "non-negative integer" in err


def test_unknown_family_has_the_error_prefix():
    assert_usage_error(*run_blrkit("families", "foo"))


def test_verify_refuses_a_size_that_does_not_fit_in_memory():
    rc, out, err = run_blrkit("verify", "ridge", "--n", "1000000000", "--dim", "100")
    assert_usage_error(rc, out, err)
    assert "would need about" in err and "TB of memory" in err and "--max-memory" in err
    rc, out, err = run_blrkit("verify", "gaussian_mean", "--max-memory", "1K")
    assert_usage_error(rc, out, err)
    rc, out, err = run_blrkit("verify", "ridge", "--max-memory", "lots")
    assert rc == 2 and "expected a size" in err and "Traceback" not in err


def _run(*args, env=None, stdout=subprocess.PIPE):
    return subprocess.run([sys.executable, "-m", "blrkit.cli", *args], stdout=stdout, stderr=subprocess.PIPE,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.mark.parametrize("args", [("table", "--rows", "dirichlet_categorical,ogn"), ("families", "beta"),
                                  ("verify", "ridge", "--dim", "2", "--n", "10")])
def test_an_ascii_only_stdout_gets_ascii_symbols(args):
    proc = _run(*args, env={"PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr.decode()
    text = proc.stdout.decode("ascii")  # every byte is ASCII
    assert "rho" in text or "lambda" in text or "Dirichlet-" in text


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_a_message_not_a_traceback():
    with open("/dev/full", "w") as full:
        proc = _run("table", "--rows", "ridge", "--quiet", stdout=full)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "Traceback" not in err and "Exception ignored" not in err
    assert err.strip() == "blrkit: error: cannot write the output: No space left on device"


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("env, rewrites", [({"TERM": "xterm"}, True), ({"TERM": "dumb"}, False),
                                           ({"TERM": "xterm", "NO_COLOR": "1"}, False), ({}, False)])
def test_progress_uses_control_codes_only_on_a_capable_terminal(monkeypatch, env, rewrites):
    for name in ("TERM", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stream = _Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    cli._progress(0, 3, "ridge")
    assert ("\r\033[K" in stream.getvalue()) == rewrites
    assert "[1/3] ridge" in stream.getvalue()
