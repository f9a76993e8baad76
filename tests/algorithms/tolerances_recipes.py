"""Tolerances for the diagonal-Newton, variational-Newton, SGD and conjugate tests, each with its reason.

Relative, as in :mod:`algorithms.tolerances` (whose ``SAME_ARITHMETIC`` and ``CLOSED_FORM`` these tests
also use), judged with its :func:`~algorithms.tolerances.assert_close`.
"""

#: The same maths by different operations: an LU solve with a diagonal matrix vs an elementwise
#: division (diagonal Newton vs Newton), or the same Monte-Carlo draws averaged by ``np.mean`` over a
#: stacked axis vs a running Python sum, with batched vs single solves (variational Newton vs its
#: textbook loop). Each step is backward stable (a few ulps); over ≤ 60 contracting steps with
#: condition numbers ≤ 1e2 that stays ≲ 1e-13. 1e-10 leaves room.
REORDERED = 1e-10

#: Monte-Carlo variational Newton vs the exact Gaussian-VI fixed point, in Monte-Carlo standard errors.
#: With K samples a step's mean moves by −ρ S⁻¹ĝ, where ĝ has standard error SE_g = sd[S⁻¹∇ℓ̄(θ)]/√K
#: (θ ~ q*), and the precision by ρĤ with SE_H = sd[∇²ℓ̄(θ)]/√K. Near the fixed point the error
#: follows e_{t+1} ≈ (1 − ρ) e_t + ρ ξ_t (an AR(1) process), whose stationary standard deviation is
#: SE·√(ρ/(2 − ρ)) (0.58 SE at ρ = 1/2); the bias of a ratio of noisy estimates is O(1/K), far
#: below SE. After 60 steps at ρ = 1/2 the start is forgotten ((1/2)^60). So 5 SE is ≥ 8.6
#: stationary standard deviations: a false failure among the 9 entries has odds < 1e-15.
#: The SEs are estimated in the test from 10 000 independent draws from q* (their own relative error ~1 %).
MONTE_CARLO_SES = 5.0
