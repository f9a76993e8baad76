"""Every tolerance used by tests/families, with its reason.

Relative tolerances are used as ``assert_close(actual, desired, rtol)``: the
absolute slack is ``rtol`` times the largest magnitude of ``desired`` (at least 1),
so entries that should be zero are judged against the size of the problem.
"""

import numpy as np

#: The same mathematics evaluated by two routes (a closed form vs the generic SymPy derivative,
#: batched vs one-by-one): only rounding differs, amplified by cancellation in log-partitions and
#: 2×2/3×3 adjugates; a few thousand ulps.
SAME_MATHS = 1e-11

#: Exact sums (discrete support) and adaptive quadrature (quad_vec asked for 1e-12 relative,
#: 1e-14 absolute) against ∇A, ∇²A: quadrature error plus rounding of densities; 1e-9 leaves room.
QUADRATURE = 1e-9

#: Monte-Carlo estimates (200 000 draws) must lie within this many standard errors of the exact
#: value, entry by entry; for a normal error the two-sided miss probability is 5.7e-7 per entry,
#: and the RNG is seeded, so the outcome is reproducible.
MC_SIGMAS = 5.0

#: Round trips standard → natural → expectation → natural → standard: closed forms, or Newton
#: stopped at ‖∇A(λ) − μ‖∞ ≤ 1e-12 (the brief's 1e-10 relative).
ROUND_TRIP = 1e-10

#: Central finite differences of μ(λ) with step h = 1e-5·max(1, |λ_j|): truncation ~h²·|∇³μ| ~1e-10,
#: rounding ~eps/h ~1e-11, relative to F; 1e-6 leaves a wide margin yet catches any wrong entry.
FINITE_DIFFERENCE = 1e-6

#: Against scipy.stats (logpdf, entropy, moments): SciPy's special functions are accurate to ~1e-14
#: relative, but log densities add terms of size |λᵀT(θ)| ≲ 1e3 that cancel; 1e-9 relative.
SCIPY = 1e-9


def assert_close(actual, desired, rtol, err_msg=""):
    """``assert_allclose`` with ``atol = rtol * max(1, max |desired|)``."""
    desired = np.asarray(desired, dtype=float)
    scale = max(1.0, float(np.max(np.abs(desired), initial=0.0)))
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale, err_msg=err_msg)
