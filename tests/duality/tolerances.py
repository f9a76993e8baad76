"""Every tolerance of tests/duality, with its reason (relative to the problem's scale, see ``assert_close``)."""

from algorithms.tolerances import assert_close  # noqa: F401 -- one definition, shared

#: A closed form against another closed form of the same quantity (sites summed vs the posterior
#: from ridge's normal equations; Sherman–Morrison vs a refit by Cholesky): rounding amplified by
#: the condition number (≲ 1e3 here), ~1e-13; 1e-10 is the issue's bound for exact LOO.
EXACT = 1e-10

#: The identity at an iterative solution stopped at ‖∇ℓ̄‖ ≤ 1e-12: the sites are evaluated at m_{t+1},
#: the precision is ∇²ℓ̄(m_t); ‖m_{t+1} − m_t‖ ≲ 1e-12 times a Lipschitz constant of f'' times ‖X‖²
#: (≲ 1e3): ~1e-9; 1e-8 leaves room.
FIXED_POINT = 1e-8

#: A derivative of the closed form against central finite differences with step 1e-5 of an
#: independent log-density (SciPy's): truncation O(h²) ≈ 1e-10 times f''' plus rounding
#: eps/h ≈ 1e-11; 1e-7 leaves room.
FINITE_DIFFERENCE = 1e-7

#: Gauss–Hermite with 128 nodes against scipy.integrate.quad (epsabs 1e-13) for predictive variances
#: ≤ 4: measured ≤ 2e-10 (the probit f'' is the hardest: 64 nodes leave 7e-9 at v = 4, 32 nodes 2e-6).
QUADRATURE = 1e-9

#: A variational fit (Gauss–Hermite BLR to ‖∇‖ ≤ 1e-12) against the ELBO minimised by scipy's BFGS at
#: gtol 1e-9: the optimum is located to ~1e-7 relative (the ELBO is flat to ~eps near it); 1e-5.
ELBO = 1e-5

