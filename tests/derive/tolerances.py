"""Every tolerance used by tests/derive, with its reason.

Used as ``assert_close(actual, desired, rtol)``: the absolute slack is ``rtol`` times the largest
magnitude of ``desired`` (at least 1), so entries that should be zero are judged against the size
of the problem, not against themselves.
"""

import numpy as np

#: One BLR step against a separately written textbook step, in float64: a handful of products and
#: one linear solve (or a sum over N ≤ 20 data). Rounding is ~eps times the condition number of the
#: solved matrix; the random SPD matrices here have condition numbers ≲ 1e3, so errors are
#: ~1e-13; 1e-10 is the issue's bound.
ONE_STEP = 1e-10

#: Posterior ∝ prior × likelihood checked through scipy.stats log densities: the log-posterior minus
#: (log-prior + log-likelihood) must be constant in θ. Log densities of size ≲ 1e2 that cancel, and
#: scipy's log-gamma/log-beta accurate to ~1e-14 relative: 1e-9 absolute on that scale.
SCIPY = 1e-9

#: A Monte-Carlo estimate must lie within this many standard errors of its expectation, entry by
#: entry; two-sided miss probability 5.7e-7 per entry for a normal error, and the RNG is seeded.
MC_SIGMAS = 5.0


def assert_close(actual, desired, rtol, err_msg=""):
    """``assert_allclose`` with ``atol = rtol * max(1, max |desired|)``."""
    desired = np.asarray(desired, dtype=float)
    scale = max(1.0, float(np.max(np.abs(desired), initial=0.0)))
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale, err_msg=err_msg)

#: One BLR step computed in float32 against the same step in float64 on the same inputs (rounded to float32),
#: entry by entry. Rounding the inputs and each operation costs ~eps32 = 1.2e-7 relative, amplified by the
#: condition number of the solved matrices (the random SPD matrices of the cases: κ ≲ 1e3) and by a short
#: chain of operations (≲ 8 roundings on the path to each output): 8 · eps32 · 1e3 ≈ 1e-3.
FLOAT32 = 8 * float(np.finfo(np.float32).eps) * 1e3
