"""README and CI agree: .ci/run runs exactly the README's two set-up commands."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", setup)


def test_readme_has_two_setup_commands():
    cmds = _readme_commands()
    assert cmds == ['pip install -e . && blrkit table', 'pip install -e ".[test]" && pytest']


def test_ci_runs_the_readme_commands():
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    for cmd in _readme_commands():
        assert cmd in lines, f".ci/run does not run the README's command {cmd!r}"


def test_readme_examples_run(capsys):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.+?)\n```", text, flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "(2, 3) (2, 3, 3)" in out
    assert "begin{align*}" in out
