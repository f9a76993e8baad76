"""Request-independent identities the EM and mixture derivations print as checked, checked here once a run.

They hold whatever the request (dimension, approximations, loss), so the derivations do not prove them again on
every derive (0.25 s and 0.30 s of SymPy each time); each check is run on its formulas, and on a wrong variant
that it must refuse.
"""

import pytest
import sympy as sp

from blrkit.derive import em, mixture


def test_the_m_step_closed_form_zeroes_the_explicit_two_dimensional_gradient():
    """m = s/N, Σ = C/N − m mᵀ zero ∂Q/∂m and ∂Q/∂S entry by entry for D = 2; the mean off by 1.0001 does not
    (nor the covariance without its − m mᵀ: refused at ∂Q/∂a, 0.2 s, checked by hand)."""
    em._check_stationary_2d()
    with pytest.raises(AssertionError, match="m1"):
        em._check_stationary_2d(mean=lambda s, n: sp.Rational(10001, 10000) * s / n)


def test_the_mixture_log_density_derivatives_follow_from_log_q():
    """∇log q = −Σ r_j S_j d_j and ∇²log q = Σ r_j[(S_j d_j)² − S_j] − (∇log q)² against SymPy's derivatives of
    log q; the gradient with the wrong sign is refused (1.1 s; so is the Hessian without its − S_j, 1.4 s, checked
    by hand, not here: the suite's time)."""
    mixture._log_mixture_identities()
    with pytest.raises(AssertionError, match="do not follow"):
        mixture._log_mixture_identities(gradient=lambda r, d, s: sum(rj * sj * dj for rj, dj, sj in zip(r, d, s)))
