"""README and CI agree: .ci/run's first stage runs exactly the README's two set-up commands, and its second
stage the tests that skip without the optional extras."""

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


SECOND_STAGE = "# Second stage:"


def _ci_stages():
    """.ci/run's command lines (comments and blanks dropped), before and after its second-stage heading."""
    text = (ROOT / ".ci" / "run").read_text()
    assert text.count(SECOND_STAGE) == 1, f".ci/run has no single {SECOND_STAGE!r} heading"
    first, second = text.split(SECOND_STAGE)
    return [[ln.strip() for ln in part.splitlines() if ln.strip() and not ln.strip().startswith("#")]
            for part in (first, second)]


def test_ci_first_stage_ends_with_the_readme_commands():
    first, _ = _ci_stages()
    cmds = _readme_commands()
    assert first[-len(cmds):] == cmds, f".ci/run's first stage does not end with the README's commands {cmds!r}"


def test_ci_second_stage_runs_the_optional_extras_tests_without_skips():
    _, second = _ci_stages()
    installs = [ln for ln in second if ln.startswith("pip install")]
    assert installs and all(x in installs[-1] for x in ("test", "torch", "jax")), installs
    runs = [ln for ln in second if ln.startswith("pytest")]
    assert runs == ["pytest -m optional_extras --skips-fail"], runs


def test_readme_examples_run(capsys):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.+?)\n```", text, flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "(2, 3) (2, 3, 3)" in out
    assert "begin{align*}" in out
