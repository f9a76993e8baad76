"""Textbook forms of the classical algorithms are identified; wrong variants are not, and get a residual; bad
input gets a one-line error naming the part.

The textbook forms are typed from the definitions in :mod:`blrkit.classical` (their docstrings' equations:
PyTorch's Adam and RMSprop, Newton's step, the ridge and Kalman closed forms), not from the derivations.
"""

import pytest
import sympy as sp

from blrkit.reverse import identify, parse_update

#: name -> (update, states, gradients, hyperparameters, expected recipe, {parameter: user expression})
TEXTBOOK = {
    # classical.adam: θ ← θ − lr (m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε), m, v moving averages of g, g²
    "adam": ("mom_new = beta1*mom + (1 - beta1)*g; sq_new = beta2*sq + (1 - beta2)*g^2; "
             "theta_new = theta - lr*(mom_new/(1 - beta1^t))/(sqrt(sq_new/(1 - beta2^t)) + eps)",
             "theta mom sq", "g", "beta1 beta2 lr eps t", "adam", {"rho": "1 - beta2", "beta1": "beta1"}),
    # classical.rmsprop: v ← α v + (1 − α) g², θ ← θ − lr g / (√v + ε)
    "rmsprop": ("v_new = alpha*v + (1 - alpha)*g^2; theta_new = theta - lr*g/(sqrt(v_new) + eps)", "theta v", "g",
                "alpha lr eps", "rmsprop", {"rho": "1 - alpha"}),
    # classical.newton: θ ← θ − H⁻¹ g
    "newton": ("P_new = hess; theta_new = theta - inv(hess)*grad", "theta P", "grad hess", "", "newton", {}),
    # classical.gradient_descent: θ ← θ − η g
    "gradient_descent": ("theta_new = theta - eta*grad", "theta", "grad", "eta", "gradient_descent",
                         {"rho": "eta"}),
    # classical.ridge (one dimension): (XᵀX/σ² + αI) w = Xᵀy/σ²
    "ridge": ("A = X*X/sigma2 + alpha; w_new = X*y/(sigma2*A); Prec_new = A", "w Prec", "", "X y sigma2 alpha",
              "ridge", {"noise_variance": "sigma2"}),
    # classical.kalman_filter's update, in the innovation form: S = H P Hᵀ + R, K = P Hᵀ S⁻¹, P ← P − K S Kᵀ
    "kalman": ("S = H*P0*H + R; K = P0*H/S; x_new = x0 + K*(y - d - H*x0); P_new = P0 - K*S*K", "x P", "",
               "H P0 R y d x0", "kalman_update", {"obs_matrix": "H"}),
}


@pytest.mark.parametrize("name", list(TEXTBOOK))
def test_textbook_form_identified(name):
    text, state, gradient, hyper, recipe, mapping = TEXTBOOK[name]
    r = identify(text, state=state, gradient=gradient, hyperparameters=hyper)
    assert r.matched and recipe in r.recipes, r.text()
    own = next(a for a in r.matches if a.candidate.key == recipe)
    for parameter, expected in mapping.items():
        assert sp.simplify(own.parameters[parameter] - parse_update(f"x = {expected}")["x"]) == 0


#: name -> (update, states, gradients, hyperparameters, the recipe it is a wrong variant of, the state whose
#: residual is nonzero)
WRONG = {
    "VOGN without (1 - rho) on the precision": (
        "s_new = s + r*N/M*gg; m_new = m - r*N/M*g/s_new", "m s", "g gg", "r N M", "vogn", "s"),
    "RMSprop with the sign of the step flipped": (
        "v_new = b2*v + (1 - b2)*g**2; m_new = m + lr*g/(sqrt(v_new) + eps)", "m v", "g", "lr b2 eps", "rmsprop", "m"),
    "damped Newton with the old precision in the mean step": (
        "S_new = (1 - r)*S + r*H; m_new = m - r*inv(S)*g", "m S", "g H", "r", "damped_newton", "m"),
    "SGD with the factor N/M dropped": ("m_new = m - r*g", "m", "g", "r", "sgd", "m"),
    "Adam without the bias correction of the first moment": (
        "a_new = b1*a + (1 - b1)*g; v_new = b2*v + (1 - b2)*g**2; "
        "m_new = m - lr*a_new/(sqrt(v_new/(1 - b2**t)) + eps)", "m v a", "g", "lr b1 b2 eps t", "adam", "m"),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_variant_is_not_an_instance(name):
    text, state, gradient, hyper, recipe, bad = WRONG[name]
    r = identify(text, state=state, gradient=gradient, hyperparameters=hyper)
    if name.startswith("SGD"):
        # without N/M the update is gradient descent itself: an instance, but not of SGD with N ≠ M
        assert "sgd" not in r.recipes or r.matches[0].candidate.key != "sgd"
        return
    assert not r.matched, r.text()
    near = next((a for a in r.closest if a.candidate.key == recipe), None)
    assert near is not None, r.text()
    assert near.residuals[bad] != 0
    assert "residual" in r.text()


def test_vogn_residual_names_the_dropped_factor():
    """The residual of the precision is ρ s: exactly the (1 − ρ) factor's missing term."""
    r = identify("s_new = s + r*N/M*gg; m_new = m - r*N/M*g/s_new", state="m s", gradient="g gg",
                 hyperparameters="r N M")
    near = next(a for a in r.closest if a.candidate.key == "vogn")
    r_, s = sp.symbols("r s")
    assert sp.simplify(near.residuals["s"] - r_ * s) == 0
    assert near.residuals["m"] == 0
    # refused before solving (blrkit.reverse.prune), it is still solved from its rational states for the report
    assert [x.state for x in near.refusals] == ["s"] and near.parameters["rho"] == r_
    assert "no parameter values match: s_new: its equations in the parameters" in r.text()


def test_sympy_input_is_accepted():
    m, g, lr = sp.symbols("m g lr", real=True)
    r = identify({"m_new": m - lr * g}, state=["m"], gradient=["g"])
    assert r.matched and r.recipe == "gradient_descent" and r.mapping == {"rho": sp.Symbol("lr")}
    r = identify([sp.Eq(sp.Symbol("m_new"), m - lr * g)], state=[m], gradient=[g])
    assert r.matched


@pytest.mark.parametrize("text, roles, part", [
    ("m_new = m - lr*g", dict(state="x", gradient="g"), "state 'x' does not appear"),
    ("m_new = m - lr*g", dict(state="m", gradient="h"), "gradient 'h' does not appear"),
    ("m_new = m - lr*foo(g)", dict(state="m", gradient="g"), "'foo' is not a known function"),
    ("m_new = m - lr*g +", dict(state="m", gradient="g"), "cannot parse"),
    ("m_new = m - lr*g; m_new = m", dict(state="m", gradient="g"), "'m_new' is assigned twice"),
    ("m_new = m - lr*g", dict(state="m", gradient="g", hyperparameters=["eta"]), "'eta' does not appear"),
    ("m_new = m - lr*g*c", dict(state="m", gradient="g", hyperparameters=["lr"]), "'c' is neither"),
    ("m_new = m.T - g", dict(state="m"), "attribute is not allowed"),
    ("m_new = __import__('os')", dict(state="m"), "not a known function"),
    ("m_new = m - g**1000", dict(state="m"), "the power 1000"),
    ("m_new = " + "m + " * 1200 + "g", dict(state="m"), "more than the 4000 read"),
    ("a = b; b = a; m_new = a", dict(state="m"), "defined through itself"),
])
def test_bad_input_is_one_line_naming_the_part(text, roles, part):
    with pytest.raises(ValueError) as e:
        identify(text, **roles)
    message = str(e.value)
    assert part in message and "\n" not in message, message


def test_bad_space_and_types():
    with pytest.raises(ValueError, match="space"):
        identify("m_new = m - g", state="m", space="everything")
    with pytest.raises(TypeError, match="update"):
        identify(42, state="m")


#: name -> (update, states, gradients, hyperparameters, the recipes it equals in one dimension only, the recipes it
#: is): each differs from the first off the diagonal or in a product's order, which the check with 3×3 matrices
#: (random symmetric positive-definite, far from diagonal) must see; the right forms are those of
#: tests/reverse/test_recipes.py.  Read with vector states (a diagonal Gaussian), diag(H) and g/diag(S) are
#: diagonal Newton's update, and are identified as it, checked at D = 3.
OFF_DIAGONAL = {
    "diag(H) for H in the precision": (
        "S_new = (1 - r)*S + r*diag(H); m_new = m - r*inv(S_new)*g", "m S", "g H", "r",
        {"damped_newton", "laplace", "variational_newton"}, {"diagonal_newton"}),
    "g/diag(S) for inv(S)*g in the mean step": (
        "S_new = (1 - r)*S + r*H; m_new = m - r*g/diag(S_new)", "m S", "g H", "r",
        {"damped_newton", "laplace", "variational_newton"}, {"diagonal_newton"}),
    "Newton with g/diag(H)": ("S_new = H; m_new = m - g/diag(H)", "m S", "g H", "", {"newton"}, set()),
    "improved BLR with B*B*inv(S) for B*inv(S)*B": (
        "B = (1 - r)*S + r*EH; S_new = (S + B*B*inv(S))/2; m_new = m - r*inv(S_new)*Eg", "m S", "Eg EH", "r",
        {"variational_newton_improved"}, set()),
}


@pytest.mark.parametrize("name", list(OFF_DIAGONAL))
def test_an_update_equal_only_in_one_dimension_is_told_apart(name):
    text, state, gradient, hyper, wrong, right = OFF_DIAGONAL[name]
    r = identify(text, state=state, gradient=gradient, hyperparameters=hyper or None)
    assert not wrong & set(r.recipes), r.text()
    refuted = {a.candidate.key: a for a in r.refuted}
    assert wrong <= set(refuted), r.text()
    for key in wrong:  # the 1-D residuals are zero; the D = 3 outputs differ far beyond rounding
        a = refuted[key]
        assert all(v == 0 for v in a.residuals.values()) and a.numeric.differs and a.numeric.error > 1e-3
    assert "not with 3×3 matrices" in r.text()
    assert right <= set(r.recipes), r.text()
    if right:
        assert r.recipe in right and r.numeric.passed and r.numeric.states == 3


def test_evaluate_reads_products_in_order_against_numpy():
    """The matrix reading of an ordered update, against the same expression written in NumPy."""
    import numpy as np

    from blrkit.reverse.numeric import evaluate

    rng = np.random.default_rng(3)
    A = rng.standard_normal((3, 3))
    S, B, H = A @ A.T + np.eye(3), rng.standard_normal((3, 3)), np.diag(rng.uniform(1, 2, 3))
    g = rng.standard_normal(3)
    e = parse_update("x = (S + B*inv(S)*B)/2 - 2*diag(S) + 1; y = inv(S + H)*g - g/diag(S) + g*g", ordered=True)
    values = {"S": S, "B": B, "H": H, "g": g}
    np.testing.assert_allclose(evaluate(e["x"], values),
                               (S + B @ np.linalg.solve(S, B)) / 2 - 2 * np.diag(np.diag(S)) + np.eye(3), rtol=1e-12)
    np.testing.assert_allclose(evaluate(e["y"], values), np.linalg.solve(S + H, g) - g / np.diag(S) + g ** 2,
                               rtol=1e-12)


def test_evaluate_applies_written_inverses_by_solves(monkeypatch):
    """``inv(S)*g``, ``inv(S)^2*g``, ``B*inv(S)*B`` and a lone ``inv(S)`` are read by solves (the guide: never an
    explicit inverse), against NumPy's closed forms; np.linalg.inv is made to fail so that a path through it
    shows."""
    import numpy as np

    from blrkit.reverse.numeric import evaluate

    rng = np.random.default_rng(5)
    A, B, g = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    S = A @ A.T + np.eye(3)
    expected = {"a": np.linalg.solve(S, g), "b": np.linalg.solve(S, np.linalg.solve(S, g)),
                "c": B @ np.linalg.solve(S, B), "d": np.linalg.solve(S, np.eye(3)), "e": g @ np.linalg.solve(S, B)}
    e = parse_update("a = inv(S)*g; b = inv(S)*inv(S)*g; c = B*inv(S)*B; d = inv(S); e = g*inv(S)*B", ordered=True)

    def refuse(*_):
        raise AssertionError("np.linalg.inv called")

    monkeypatch.setattr(np.linalg, "inv", refuse)
    for name, want in expected.items():
        np.testing.assert_allclose(evaluate(e[name], {"S": S, "B": B, "g": g}), want, rtol=1e-12, err_msg=name)


def test_a_step_reading_data_is_checked_on_one_datum():
    """Ridge reads X and y: its emitted step is run on one datum in one dimension against the user's update; the
    same check of a wrong update (the 1/σ² dropped from the mean) against the same match fails it."""
    from blrkit.reverse import read_update
    from blrkit.reverse.numeric import check

    roles = dict(state="m S", hyperparameters="alpha X y s2")
    r = identify("S_new = alpha + X*X/s2; m_new = inv(S_new)*X*y/s2", **roles)
    assert r.recipe == "ridge" and r.numeric.passed and r.numeric.one_datum and r.numeric.states == 3
    wrong = check(r.matches[0], read_update("S_new = alpha + X*X/s2; m_new = inv(S_new)*X*y", **roles))
    assert wrong.ran and not wrong.passed and wrong.error > 1e-3
    assert not wrong.differs  # one datum is a guess at the arrays' layout: reported, it refutes no match
