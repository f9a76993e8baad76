"""Helpers: run ``blrkit`` as a user would: ``python -m blrkit.cli ...`` in a subprocess."""

import subprocess
import sys



def run_blrkit(*args, timeout=120):
    """``(exit status, stdout, stderr)`` of ``python -m blrkit.cli ARGS``."""
    proc = subprocess.run([sys.executable, "-m", "blrkit.cli", *args], capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def assert_usage_error(rc, out, err):
    """Exit 2, one line on stderr saying what was wrong, no traceback."""
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("blrkit: error: "), err
