"""The derived sites of a GLM solution (blrkit.derive.duality): the identity λ* = λ₀ + Σλ̃ᵢ against a MAP
found by IRLS (blrkit.classical.irls, written without the derive layer) and its Hessian typed here."""

import numpy as np
import pytest

from blrkit.classical.irls import irls
from blrkit.derive import DerivationError, derive_local_parameters

#: 40 IRLS steps reach the MAP to rounding (quadratic convergence); the sums over N = 60 examples of
#: O(1) terms then agree to ~1e-13 relative.
IDENTITY = 1e-10


@pytest.mark.parametrize("kind", ["logistic", "poisson"])
def test_sites_sum_to_the_map_solution(kind):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3)) / 2
    t = (rng.uniform(size=60) < 0.4).astype(float) if kind == "logistic" else rng.poisson(1.5, 60).astype(float)
    alpha = 2.0
    m = irls(X, t, alpha, kind, 40)[-1]
    a, beta = derive_local_parameters(kind).compile()(m, X, t)  # labels t in {0, 1}, as IRLS's
    # the Hessian of the penalised loss at the MAP, by hand: αI + Xᵀ diag(w) X
    eta = X @ m
    w = np.exp(eta) if kind == "poisson" else 1 / (1 + np.exp(-eta)) / (1 + np.exp(eta))
    S = alpha * np.eye(3) + X.T @ (w[:, None] * X)
    np.testing.assert_allclose(alpha * np.eye(3) + X.T @ (beta[:, None] * X), S, rtol=IDENTITY)  # λ₂
    np.testing.assert_allclose(X.T @ a, S @ m, rtol=IDENTITY, atol=IDENTITY)  # λ₁ = S m (λ₀,₁ = 0)


def test_a_loss_of_ones_own_and_batching():
    d = derive_local_parameters("(y - eta)**2/2 + eta**4/12")
    rng = np.random.default_rng(0)
    X, y, m = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5)), rng.normal(size=(2, 3))
    a, beta = d.compile()(m, X, y)
    eta = np.einsum("bnd,bd->bn", X, m)
    np.testing.assert_allclose(beta, 1 + eta**2, rtol=1e-14)
    np.testing.assert_allclose(a, beta * eta - (eta - y + eta**3 / 3), rtol=1e-13)


def test_not_a_glm_loss_is_refused():
    import sympy as sp

    with pytest.raises(DerivationError, match="only eta and y"):
        derive_local_parameters(sp.Symbol("eta") * sp.Symbol("z"))


def test_a_label_outside_the_losses_convention_is_refused_naming_y():
    """The logistic loss's labels are 0, 1 (as blrkit.duality's): y = −1 is refused, saying how to convert."""
    step = derive_local_parameters("logistic").compile()
    X, m = np.random.default_rng(0).standard_normal((5, 2)), np.zeros(2)
    step(m, X, np.array([1.0, 0.0, 1.0, 1.0, 0.0]))
    for bad in (-1.0, 2.0, 0.5):  # the ±1 convention, a count, a probability
        with pytest.raises(ValueError, match=r"^y must hold labels 0 or 1 .*for ±1 labels pass \(y \+ 1\) / 2"):
            step(m, X, np.array([1.0, bad, 1.0, 1.0, 0.0]))


def test_a_glm_loss_declares_binary_labels_as_0_and_1_only():
    """One convention: a GLMLoss may declare the labels (0, 1) or none (any real y); (−1, 1) is refused, naming
    labels and how to convert, so that no emitted step checks for ±1 labels."""
    import sympy as sp

    from blrkit.derive import GLMLoss
    from blrkit.derive.symbols import ETA as eta, Y_OBS as y

    assert GLMLoss(sp.log(1 + sp.exp(eta)) - y * eta, "mine", [0, 1]).labels == (0, 1)
    with pytest.raises(ValueError, match=r"^labels must be \(\) .* or \(0, 1\).*for ±1 labels pass \(y \+ 1\) / 2"):
        GLMLoss(sp.log(1 + sp.exp(-y * eta)), "mine", (-1, 1))
