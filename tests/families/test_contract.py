"""The contract every exponential family meets (Khan & Rue 2023, Sec. 1.2), over every family.

Oracles are computed from the density alone (exact sums, adaptive quadrature, or seeded
Monte Carlo, :mod:`blrkit.families._integrate`), never from A(λ).
"""

import numpy as np
import pytest
import sympy

from blrkit.families._integrate import expectation, moments
from families.tolerances import (
    FINITE_DIFFERENCE,
    MC_SIGMAS,
    QUADRATURE,
    ROUND_TRIP,
    SAME_MATHS,
    assert_close,
)


@pytest.fixture
def point(family, rng):
    std = family.example(rng)
    return std, family.to_natural(**std)


def _within(estimate, exact, stderr, method):
    if method == "monte-carlo":
        z = np.abs(estimate - exact) / stderr
        assert np.all(z <= MC_SIGMAS), f"Monte-Carlo error {z.max():.2f} standard errors"
    else:
        assert_close(estimate, exact, QUADRATURE)


def test_contract_attributes(family):
    k = family.dim
    assert len(family.statistics) == len(family.expectation) == k
    assert [str(s) for s in family.natural] == [f"lambda_{i}" for i in range(1, k + 1)]
    assert [str(s) for s in family.expectation] == [f"mu_{i}" for i in range(1, k + 1)]
    assert family.log_partition.free_symbols <= set(family.natural)
    assert sympy.sympify(family.log_base_measure).free_symbols <= set(family.theta)
    assert set(family.natural_to_standard) == {p.name for p in family.standard}
    for e in family.standard_to_natural:
        assert sympy.sympify(e).free_symbols <= set(family.standard_symbols)


def test_density_is_normalised(family, point, rng):
    _, lam = point
    value, se, method = expectation(family, lam, lambda th: np.ones((len(th), 1)), rng=rng)
    if method == "monte-carlo":  # sampling cannot see the normaliser: use E[q/q] = 1 trivially; skip
        pytest.skip("normalisation is not testable by sampling from q")
    assert_close(value, [1.0], QUADRATURE)


def test_mean_map_is_expected_statistics(family, point, rng):
    """μ = ∇A(λ) = E_q[T(θ)]."""
    _, lam = point
    mean, _, se, _, method = moments(family, lam, rng=rng)
    _within(mean, family.to_expectation(lam), se, method)


def test_fisher_is_covariance_of_statistics(family, point, rng):
    """F = ∇²A(λ) = Cov_q[T(θ)]."""
    _, lam = point
    _, cov, _, se, method = moments(family, lam, rng=rng)
    _within(cov, family.fisher_information(lam), se, method)


def test_fisher_is_jacobian_of_mean_map(family, point):
    """F = ∂μ/∂λ, by central differences of the numeric mean map."""
    _, lam = point
    fisher = family.fisher_information(lam)
    jac = np.empty_like(fisher)
    for j in range(family.dim):
        h = 1e-5 * max(1.0, abs(lam[j]))
        e = np.zeros(family.dim)
        e[j] = h
        jac[:, j] = (family.to_expectation(lam + e) - family.to_expectation(lam - e)) / (2 * h)
    assert_close(jac, fisher, FINITE_DIFFERENCE)
    np.testing.assert_array_equal(fisher, np.swapaxes(fisher, -1, -2))
    assert np.all(np.linalg.eigvalsh(fisher) > 0), "F must be positive definite (minimal family)"


def test_round_trip(family, point):
    """standard → natural → expectation → natural → standard."""
    std, lam = point
    lam_back = family.from_expectation(family.to_expectation(lam))
    assert_close(lam_back, lam, ROUND_TRIP)
    back = family.to_standard(lam_back)
    for name, value in std.items():
        assert_close(back[name], value, ROUND_TRIP, err_msg=name)


def test_closed_forms_equal_generic(family, point):
    """Every closed form a family gives equals the generic derivation (numerically at a point)."""
    std, lam = point
    subs = dict(zip(family.natural, lam))
    cf = family.closed_forms
    if "mean_map" in cf:
        generic = [float(sympy.N(e.xreplace(subs), 20)) for e in family.generic_mean_map]
        assert_close(family.to_expectation(lam), generic, SAME_MATHS)
    if "fisher" in cf and family.dim <= 6:  # larger: the finite-difference test checks F = ∂μ/∂λ
        generic = np.array(family.generic_fisher.xreplace(subs).evalf(20), dtype=float)
        assert_close(family.fisher_information(lam), generic, SAME_MATHS)
    if "entropy" in cf and family.generic_entropy is not None:
        generic = float(sympy.N(family.generic_entropy.xreplace(subs), 20))
        assert_close(family.entropy_value(lam), generic, SAME_MATHS)
    if "expectation_standard" in cf:
        values = {}
        for p in family.standard:
            arr = np.asarray(std[p.name], float)
            for s, idx in zip(p.unique_symbols, p.positions()):
                values[s] = arr[idx]
        closed = [float(sympy.N(e.xreplace(values), 20)) for e in cf["expectation_standard"]]
        assert_close(family.to_expectation(lam), closed, SAME_MATHS)


def test_closed_form_mean_map_symbolically(family):
    """Closed μ(λ) minus ∂A/∂λ simplifies to 0 (small families; D = 3 is checked numerically above)."""
    if "mean_map" not in family.closed_forms or family.dim > 6:
        pytest.skip("no closed mean map, or too large for a symbolic check in the time budget")
    for closed, generic in zip(family.closed_forms["mean_map"], family.generic_mean_map):
        assert sympy.simplify(sympy.expand_log(sympy.cancel(closed - generic), force=True)) == 0


def test_entropy_is_minus_expected_log_density(family, point, rng):
    """H(q) = −E_q[log q(θ)] (the density evaluated at the sum, quadrature or sample points)."""
    _, lam = point
    value, se, method = expectation(family, lam, lambda th: -family.log_density_value(th, lam)[:, None], rng=rng)
    _within(value, np.atleast_1d(family.entropy_value(lam)), se, method)


def test_kl_is_expected_log_ratio(family, point, rng):
    """KL(q‖p) = E_q[log q − log p], and KL(q‖q) = 0 symbolically."""
    std, lam_q = point
    lam_p = family.to_natural(**family.example(rng))
    kl = family.kl_value(lam_q, lam_p)
    value, se, method = expectation(
        family, lam_q, lambda th: (family.log_density_value(th, lam_q) - family.log_density_value(th, lam_p))[:, None],
        rng=rng)
    _within(value, np.atleast_1d(kl), se, method)
    assert sympy.simplify(family.kl(family.natural)) == 0


def test_batches_broadcast(family, rng):
    """A batch of parameter points gives the same numbers as one point at a time."""
    points = [family.example(rng) for _ in range(3)]
    batch = {p.name: np.stack([np.asarray(pt[p.name], float) for pt in points]) for p in family.standard}
    lam = family.to_natural(**batch)
    assert lam.shape == (3, family.dim)
    for i, pt in enumerate(points):
        lam_i = family.to_natural(**pt)
        assert_close(lam[i], lam_i, SAME_MATHS)
        assert_close(family.to_expectation(lam)[i], family.to_expectation(lam_i), SAME_MATHS)
        assert_close(family.fisher_information(lam)[i], family.fisher_information(lam_i), SAME_MATHS)
        assert_close(family.entropy_value(lam)[i], family.entropy_value(lam_i), SAME_MATHS)
        for name, value in family.to_standard(lam).items():
            assert_close(value[i], family.to_standard(lam_i)[name], SAME_MATHS)
    assert family.kl_value(lam, lam[0]).shape == (3,)


def test_inputs_are_not_mutated(family, point):
    std, lam = point
    std_arrays = {k: np.array(v, dtype=float) for k, v in std.items()}
    saved = {k: v.copy() for k, v in std_arrays.items()}
    lam_saved = lam.copy()
    mu = family.to_expectation(lam)
    mu_saved = mu.copy()
    family.to_natural(**std_arrays)
    family.to_standard(lam)
    family.fisher_information(lam)
    family.from_expectation(mu)
    family.entropy_value(lam)
    for k in std_arrays:
        np.testing.assert_array_equal(std_arrays[k], saved[k])
    np.testing.assert_array_equal(lam, lam_saved)
    np.testing.assert_array_equal(mu, mu_saved)


def test_invalid_standard_parameters_name_parameter_and_constraint(family, point):
    std, _ = point
    for p in family.standard:
        bad = dict(std)
        bad[p.name] = np.full_like(np.asarray(std[p.name], float), np.nan)
        with pytest.raises(ValueError, match=rf"^{p.name} must be finite"):
            family.to_natural(**bad)
        if p.shape:  # a trailing axis of the wrong length (a scalar's extra axes are a batch)
            bad[p.name] = np.ones(p.shape[:-1] + (p.shape[-1] + 1,))
            with pytest.raises(ValueError, match=rf"^{p.name} must have shape"):
                family.to_natural(**bad)
        if p.constraint == "real":
            continue
        bad[p.name] = -np.abs(np.asarray(std[p.name], float))  # negative: breaks every non-real constraint
        phrase = {"positive": "> 0", "positive-vector": "> 0", "probability": r"open interval \(0, 1\)",
                  "simplex": "probability simplex", "spd": "symmetric positive definite"}[p.constraint]
        with pytest.raises(ValueError, match=rf"^{p.name} must .*{phrase}"):
            family.to_natural(**bad)


def test_invalid_natural_parameters(family, point):
    _, lam = point
    with pytest.raises(ValueError, match="lam must have shape"):
        family.to_expectation(np.append(lam, 0.0))
    with pytest.raises(ValueError, match="lam must be finite"):
        family.to_expectation(np.where(np.arange(family.dim) == 0, np.inf, lam))


def test_display(family):
    tex = family.latex()
    assert tex.startswith(r"\begin{align}") and tex.endswith(r"\end{align}")
    for s in family.natural:
        assert sympy.latex(s) in tex
    assert family._repr_latex_().startswith("$$")
    line = family.summary()
    assert "\n" not in line and f"[{family.key}]" in line
