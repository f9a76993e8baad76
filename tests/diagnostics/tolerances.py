"""Every tolerance of tests/diagnostics, with its reason (relative to the problem's scale, see ``assert_close``)."""

from algorithms.tolerances import assert_close  # noqa: F401 -- one definition, shared

#: A closed form against the same quantity by Gauss–Hermite or Gauss–Legendre quadrature of a smooth
#: integrand (a Gaussian, or a Gaussian times exp of a linear form): the rules are exact for polynomials of
#: degree < 2K and converge geometrically otherwise; measured ≲ 1e-12; 1e-9 leaves room for rounding.
QUADRATURE = 1e-9

#: A BLR fixed point (iterated to a change < 1e-10 relative) against a closed form or an independent
#: optimiser (scipy BFGS at gtol 1e-10 on a closed-form ELBO or MAP objective): both locate the optimum to
#: ~1e-8 relative (the objective is flat to ~eps near it); 1e-6 is the issue's bound for iterative solves.
FIXED_POINT = 1e-6

#: A natural gradient read back from a step taken at ρ = RHO_PROBE = 1e-6: Ĥ = (S_{t+1} − (1 − ρ)S_t)/ρ loses
#: about eps·‖S‖/ρ ≈ 2e-10 relative to cancellation (measured ≲ 1e-10); 1e-8 leaves room.
PROBE = 1e-8

#: The fixed-point conditions of a BLR run stopped when its mean step is below 1e-10 sd of q and S changes
#: by less than 1e-10 relative: E_q[∇ℓ̄] ≲ 1e-10 ‖S‖^{1/2} and S − E_q[∇²ℓ̄] ≲ 1e-10 ‖S‖ (measured 2e-10 and
#: 5e-11, relative to ‖S‖); 1e-8 of ‖S‖ leaves room.
STOPPED = 1e-8

#: Our grid quadrature against scipy.integrate.quad (epsabs 1e-13) of the same skewed density: both are
#: accurate to ~1e-11 (measured); a KL or moment is a ratio of two such integrals; 1e-8 leaves room.
SCIPY_QUAD = 1e-8

#: A Monte-Carlo mean of n draws against its expectation, in its own standard errors: 5 (exceeded by chance with
#: probability ≲ 4e-6 in 2-D, the seed is fixed anyway), while the delta method's error on these problems is
#: ≳ 30 standard errors.
MONTE_CARLO_SE = 5.0

#: The average of the last 200 of 400 Monte-Carlo BLR iterates (64 samples, ρ = 0.2) against the exact Gaussian
#: VI, in posterior sd: one iterate scatters by ~0.055 sd, the iterates decorrelate over ~1/ρ = 5 steps, so the
#: average's standard error is ~0.055/√40 ≈ 0.009 sd (measured 0.001-0.022 over 3 seeds); 0.04 is ~4.5 of them,
#: while a wrong fixed point (Laplace's, 0.3 sd away on this problem) or one iterate alone (0.055 sd) misses it.
#: The mean of 2^14 independent draws has standard error 0.008 sd: 0.04 is 5 of them.
MC_AVERAGE = 0.04
