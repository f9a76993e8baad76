"""The mean-field engine (blrkit.derive.meanfield): a sweep of two conjugate blocks against the classical
updates, the order of the blocks, and the losses it refuses."""

import numpy as np
import pytest
import sympy as sp

from blrkit.derive import DerivationError
from blrkit.derive.conjugate import I, N_OBS, Y
from blrkit.derive.meanfield import Block, derive_mean_field

mu, tau = sp.symbols("mu tau")
LOSS = sp.Sum(tau * (Y[I] - mu) ** 2 / 2 - sp.log(tau) / 2, (I, 1, N_OBS))


def test_the_order_of_the_blocks_is_the_order_of_the_updates():
    """τ first: q(τ) uses the current q(μ), then q(μ) the new q(τ) (by hand, one problem)."""
    sweep = derive_mean_field([Block("tau", "gamma"), Block("mu", "gaussian")], LOSS).compile()
    y = np.random.default_rng(0).normal(1.0, 2.0, 30)
    m, S, a, b = 0.4, 2.0, 1.5, 2.5
    (m0, S0, a0, b0) = (0.0, 0.1, 2.0, 3.0)
    a_new, b_new, m_new, S_new = sweep(tau_alpha=a, tau_beta=b, mu_m=m, mu_S=S, y=y, tau_alpha_0=a0,
                                       tau_beta_0=b0, mu_m_0=m0, mu_S_0=S0)
    e_mu, e_mu2 = m, m**2 + 1 / S
    b_hand = b0 + 0.5 * (np.sum(y**2) - 2 * e_mu * y.sum() + len(y) * e_mu2)
    S_hand = S0 + len(y) * (a0 + len(y) / 2) / b_hand
    np.testing.assert_allclose([a_new, b_new, S_new], [a0 + len(y) / 2, b_hand, S_hand], rtol=1e-13)
    np.testing.assert_allclose(m_new, (S0 * m0 + (a0 + len(y) / 2) / b_hand * y.sum()) / S_hand, rtol=1e-13)


def test_a_loss_that_is_not_conditionally_conjugate_is_refused():
    with pytest.raises(DerivationError, match="not linear in the sufficient statistics .* of block mu: the term mu..4"):
        derive_mean_field([Block("tau", "gamma"), Block("mu", "gaussian")],
                          sp.Sum(tau * (Y[I] - mu) ** 4, (I, 1, N_OBS)))


def test_one_block_or_an_unknown_family_is_refused():
    with pytest.raises(DerivationError, match="at least two blocks"):
        derive_mean_field([Block("mu", "gaussian")], LOSS)
    with pytest.raises(DerivationError, match="unknown family"):
        derive_mean_field([Block("mu", "gaussian"), Block("tau", "wishart")], LOSS)
