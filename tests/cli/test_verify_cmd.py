"""``blrkit verify ALGORITHM``: one row at a chosen size."""

import pytest
from cli._run import assert_usage_error, run_blrkit


def test_verify_prints_each_counterpart():
    rc, out, err = run_blrkit("verify", "gaussian_mean", "--dim", "3", "--n", "30", "--batch", "1", "--seed", "2")
    assert rc == 0, err
    for name in ("derived step (compiled)", "classical.conjugate (every parameter)", "scipy.stats Bayes' rule"):
        assert name in out
    assert "independent" in out and "freshness" in out
    assert " rel. " in out  # every error with its unit (issue #25)
    assert "dim 3, n 30, batch 1" in out and out.rstrip().endswith("pass")


def test_verify_kalman_at_another_size():
    rc, out, err = run_blrkit("verify", "kalman_update", "--dim", "2", "--n", "10", "--batch", "1")
    assert rc == 0, out + err
    assert "classical.kalman_filter" in out


def test_verify_ivon_prints_standard_errors():
    # IVON's Monte-Carlo check is in standard errors, not a relative error: the unit is printed (issue #25)
    rc, out, err = run_blrkit("verify", "ivon", "--dim", "2", "--n", "20", "--batch", "1")
    assert rc == 0, out + err
    line = next(line for line in out.splitlines() if "closed form" in line)
    assert " s.e. " in line


def test_unknown_algorithm():
    assert_usage_error(*run_blrkit("verify", "adamw"))


@pytest.mark.parametrize("option", ["--dim", "--n", "--batch"])
def test_sizes_must_be_positive(option):
    rc, _, err = run_blrkit("verify", "ridge", option, "0")
    assert rc == 2 and "positive integer" in err and "Traceback" not in err
