"""The command line started with stdout closed (`blrkit … >&-`, issue #27): it exits with its status, quietly."""

import subprocess
import sys


def test_closed_stdout_exits_quietly():
    """Before: ``AttributeError: 'NoneType' object has no attribute 'flush'`` with a traceback, status 1."""
    proc = subprocess.run([sys.executable, "-m", "blrkit.cli", "derive", "gaussian", "--loss", "theta**2"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120,
                          preexec_fn=lambda: __import__("os").close(1))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
