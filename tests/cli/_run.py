"""Helpers: run ``blrkit`` on a command line, in this process (``run_blrkit``) or as a new one (``run_blrkit_process``).

``run_blrkit`` calls the console script's entry point, :func:`blrkit.cli.main`, with its own UTF-8 stdout and
stderr (not terminals, as under a pipe) and returns what a shell would see: the exit status, the two streams, and
for an exception that escapes ``main`` the traceback Python would print, with status 1. It saves the ~1 s of
imports a new interpreter pays and reuses the derivations this process already made, which is all that differs
from a new process; what only a process can show (the console script, ``python -m``, an ASCII-only or closed
stream, a full disk, parsing without SymPy) is run by ``run_blrkit_process`` in tests/cli/test_help_and_entry.py,
test_bad_use.py and test_closed_streams.py.
"""

import contextlib
import io
import subprocess
import sys
import traceback

from blrkit import cli


def run_blrkit(*args):
    """``(exit status, stdout, stderr)`` of ``blrkit ARGS``, run in this process."""
    out, err = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="\n") for _ in range(2))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(list(args))
        except SystemExit as e:  # argparse: --help (0) and usage errors (2)
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except Exception:  # what the interpreter would print for an exception escaping main
            traceback.print_exc(file=err)
            rc = 1
    return rc, _text(out), _text(err)


def _text(stream) -> str:
    stream.flush()
    return stream.buffer.getvalue().decode("utf-8")


def run_blrkit_process(*args, timeout=120):
    """``(exit status, stdout, stderr)`` of ``python -m blrkit.cli ARGS`` in a subprocess."""
    proc = subprocess.run([sys.executable, "-m", "blrkit.cli", *args], capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def assert_usage_error(rc, out, err):
    """Exit 2, one line on stderr saying what was wrong, no traceback."""
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("blrkit: error: "), err
