"""``--help`` of every command is complete; the console script and ``python -m`` both work."""

import shutil
import subprocess

import pytest
from cli._run import run_blrkit, run_blrkit_process


@pytest.mark.parametrize("command", ["table", "derive", "verify", "families"])
def test_help_is_complete(command):
    rc, out, _ = run_blrkit(command, "--help")
    assert rc == 0
    assert "examples:" in out and "exit status" in out and f"blrkit {command}" in out


def test_top_level_help_names_every_command():
    rc, out, _ = run_blrkit("--help")
    assert rc == 0
    assert all(c in out for c in ("table", "derive", "verify", "families"))
    rc, _, err = run_blrkit_process()  # `python -m blrkit.cli` in a process of its own
    assert rc == 2 and "Traceback" not in err


def test_parsing_does_not_import_sympy():
    """The CLI is import-light: building the parser and --help of table load no SymPy."""
    import sys

    code = "import sys, blrkit.cli as c; c._build_parser(); print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.skipif(shutil.which("blrkit") is None, reason="console script not installed")
def test_console_script():
    proc = subprocess.run(["blrkit", "verify", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "ALGORITHM" in proc.stdout
