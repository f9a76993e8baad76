"""Every tolerance used by tests/algorithms and tests/classical, with its reason.

All are relative, in the sense of ``np.testing.assert_allclose(actual, desired, rtol=..., atol=rtol * scale)``
with ``scale`` the largest magnitude of ``desired`` (see :func:`assert_close`), so entries that should be
zero are judged against the size of the problem, not against themselves.
"""

import numpy as np

#: Same arithmetic in a different loop or layout (batched vs single BLAS calls, a solve on a
#: vector vs on a column): results may differ in the last bits only; a few hundred ulps.
SAME_ARITHMETIC = 1e-12

#: One-step closed forms against an independent computation (a different factorisation, e.g.
#: normal equations vs SVD least squares, gain vs joint-Gaussian conditioning): rounding is
#: amplified by the condition number (≲ 1e4 here) times machine epsilon, ~1e-12; 1e-8 leaves room.
CLOSED_FORM = 1e-8

#: Against an iterative library solver stopped at its own tolerance: sklearn at tol=1e-12; scipy
#: trust-exact at gtol=1e-6 (below ~1e-7 it stalls: the loss no longer changes in float64), which
#: puts the MAP within ~1e-8 relative. 1e-6 is the issue's bound for iterative solves.
ITERATIVE = 1e-6

#: Kalman filter against pykalman and filterpy over T ≤ 200 steps: each step is a closed form
#: (CLOSED_FORM), but the libraries use other formulas (pykalman a pseudo-inverse and the
#: non-Joseph covariance update, filterpy an explicit inverse), and errors accumulate over the
#: sequence; still ~1e-12 in practice, so 1e-8 again.
KALMAN = 1e-8


def assert_close(actual, desired, rtol):
    """``assert_allclose`` with ``atol = rtol * max|desired|`` (relative to the problem's scale)."""
    desired = np.asarray(desired, dtype=float)
    scale = max(float(np.max(np.abs(desired), initial=0.0)), 1e-300)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)

#: EM for a state-space model against pykalman and the textbook EM step after a few iterations:
#: each iteration is a filter and smoother (KALMAN) followed by closed-form M-steps whose normal
#: equations (Σ E[x xᵀ], condition ≲ 1e3 here) amplify the smoother's rounding, and the next
#: iteration starts from those parameters; measured ~1e-13 after three iterations, so 1e-8 leaves
#: room for ill-conditioned random models.
KALMAN_EM = 1e-8

#: A driver on Dask arrays against the same driver on the NumPy arrays (issue 15's bound): per series
#: the arithmetic is the same except that XᵀX and Xᵀy are summed chunk by chunk in another order and
#: the ridge step sees them through an eigendecomposition (~1e-15 relative each), and that a chunk of
#: series may take the Kalman filter's small-batch path where the whole batch takes the affine-map
#: path (measured ~1e-15); 1e-10 is the issue's bound and leaves ~1e4 of room.
DASK = 1e-10

#: A driver on float32 inputs against the same driver on the float64 values of those inputs (issue #29's
#: dtype policy). Each input is rounded once (relative ε₃₂/2, ε₃₂ = 1.19e-7) and each iterate is rounded to
#: float32 after every step; the runs here take ≤ 10 steps of contractive updates with condition numbers
#: ≲ 10, so the error stays below n·κ·ε₃₂ ≈ 1.2e-5; 1e3·ε₃₂ ≈ 1.2e-4 leaves 10× room and is still ~1e4 times
#: looser than float64 agreement, so a float32 run that is not computed (a wrong dtype cast back) still fails.
#: The Kalman covariance recursion is contractive (the Riccati map forgets its start), so its float32 drift
#: over 10⁵ steps is bounded by the same multiple of ε₃₂ and does not grow with T.
FLOAT32 = 1e3 * float(np.finfo(np.float32).eps)
