"""Symbols: every recipe's derived update equals its textbook formula, written here independently.

Gaussian recipes are checked twice: in general D with matrix symbols (S_{t+1} − S_textbook and
S_{t+1}·m_{t+1} − λ_{1,t+1}^textbook expand to zero, which needs no inverse of a sum), and element by
element for D = 1, 2, 3 with explicit symmetric matrices of symbols substituted in. Conjugate recipes
are checked for N = 1, 2, 3 data y₁..y_N with the sums written out.
"""

import pytest
import sympy as sp
from sympy import Identity, Inverse, MatrixSymbol, ZeroMatrix

from blrkit.derive import RECIPES
from blrkit.derive.losses import D, N, O

rho, alpha, s2, n_data, n_batch = sp.symbols("rho alpha noise_variance n_data n_batch")


def plain(expr):
    """Drop the assumptions of scalar symbols (textbook symbols here carry none), not of dimensions."""
    return expr.xreplace({s: sp.Symbol(s.name) for s in expr.free_symbols
                          if type(s) is sp.Symbol and s not in (D, N, O)})


def vec(name, rows=D):
    return MatrixSymbol(name, rows, 1)


def mat(name, rows=D, cols=D):
    return MatrixSymbol(name, rows, cols)


m, S, H, g, E_g, E_H, g_batch, S_new = vec("m"), mat("S"), mat("H"), vec("g"), vec("E_g"), mat("E_H"), vec("g_batch"), mat("S_new")
X, y = mat("X", N, D), vec("y", N)


def damped(hess, grad, r=rho):
    """Textbook Gaussian BLR-Newton: S' = (1 − ρ)S + ρH; λ₁' = S'm' = (1 − ρ)Sm + ρ(Hm − g)."""
    return {"S_new": (1 - r) * S + r * hess, "lam_1": (1 - r) * S * m + r * (hess * m - grad)}


#: recipe -> textbook update: "m_new" directly, or "S_new" and "lam_1" = S_{t+1} m_{t+1}
GAUSSIAN = {
    "gradient_descent": {"m_new": m - rho * g},
    "sgd": {"m_new": m - rho * n_data / n_batch * g_batch},
    "newton": {"S_new": H, "lam_1": H * m - g},
    "damped_newton": damped(H, g),
    "laplace": damped(H, g),
    "variational_newton": damped(E_H, E_g),
    "ridge": {"S_new": X.T * X / s2 + alpha * Identity(D), "lam_1": X.T * y / s2},
}


def is_zero(e) -> bool:
    e = sp.expand(e).doit()
    return e.is_ZeroMatrix or e == ZeroMatrix(*e.shape) or sp.simplify(e) == ZeroMatrix(*e.shape)


def updates(name):
    return {eq.lhs.name: plain(eq.rhs) for eq in RECIPES[name].derive().update}


def test_every_recipe_has_a_symbolic_textbook_form():
    missing = set(RECIPES) - set(GAUSSIAN) - set(CONJUGATE) - {"kalman_update", "diagonal_newton"} - set(DIAGONAL_GN) \
        - {"rmsprop", "adam", "variational_newton_improved", "vogn_improved", "ivon", "multimodal", "ncvi", "vmp", "ncvmp", "svi", "bayesbinn", "ste", "dropout",
           "em", "vmp_regression", "svi_lda", "bernoulli_exact",
           "dropout_noise"}
    # a row that carries its textbook form in its record is matched to it by identify (tests/reverse/test_recipes.py)
    missing -= {name for name, r in RECIPES.items() if r.textbook_form is not None}
    assert not missing, f"add a textbook form to tests/derive/test_symbolic.py for {sorted(missing)}"


@pytest.mark.parametrize("name", list(GAUSSIAN))
def test_gaussian_general_dimension(name):
    got, want = updates(name), GAUSSIAN[name]
    if "m_new" in want:
        assert is_zero(got["m_new"] - want["m_new"]), got["m_new"]
        return
    assert is_zero(got["S_new"] - want["S_new"]), got["S_new"]
    # S_{t+1} m_{t+1} with S_{t+1} kept a symbol (so S S⁻¹ cancels), then S_{t+1} → textbook
    lam_1 = sp.expand(S_new * got["m_new"]).doit().subs(S_new, want["S_new"])
    assert is_zero(lam_1 - want["lam_1"]), lam_1


def explicit(name, d, rows=None, cols=None, symmetric=False):
    rows, cols = rows or d, cols or d
    if symmetric:
        return sp.Matrix(d, d, lambda i, j: sp.Symbol(f"{name}_{min(i, j)}{max(i, j)}"))
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}"))


def rational_spd(name, d):
    """A fixed symmetric positive-definite matrix of small rationals, different for each name."""
    k = sum(map(ord, name)) % 5 + 1
    return sp.Matrix(d, d, lambda i, j: d + k if i == j else sp.Rational(1, k + i + j + 1))


def concrete(expr, d, n_obs=2):
    """Substitute explicit symbol matrices (symmetric S, H, E_H, S_{t+1}) for every matrix symbol.

    For D = 3 the symmetric matrices are fixed rational SPD matrices instead: with all 12 of their
    entries symbolic, cancelling the 3×3 inverse of (1 − ρ)S + ρH takes minutes; m, g, ρ, X, y stay
    symbolic."""
    e = expr.subs({D: d, N: n_obs})
    sym = ("S", "H", "E_H", "S_new")
    table = {s: (rational_spd(s.name, d) if d == 3 else explicit(s.name, d, symmetric=True)) if s.name in sym
             else explicit(s.name, s.shape[0], s.shape[0], s.shape[1]) for s in e.atoms(MatrixSymbol)}
    return sp.Matrix(e.xreplace(table).doit())


def assert_entries_zero(M):
    bad = [(i, e) for i, e in enumerate(M) if sp.cancel(sp.together(e)) != 0]
    assert not bad, bad


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("name", list(GAUSSIAN))
def test_gaussian_element_by_element(name, d):
    got, want = updates(name), GAUSSIAN[name]
    if "m_new" in want:
        assert_entries_zero(concrete(got["m_new"] - want["m_new"], d))
        return
    S_tb = concrete(want["S_new"], d)
    assert_entries_zero(concrete(got["S_new"], d) - S_tb)
    # m_{t+1} with its S_{t+1} = the derived precision, inverted explicitly; then S_textbook m − λ₁
    m_new = concrete(got["m_new"].subs(S_new, got["S_new"]), d)
    assert_entries_zero(S_tb * m_new - concrete(want["lam_1"], d))


def test_diagonal_newton_elementwise():
    s, h, gs, ms, s_new = sp.symbols("s h g m s_new")
    got = updates("diagonal_newton")
    assert sp.simplify(got["s_new"] - ((1 - rho) * s + rho * h)) == 0
    assert sp.simplify(got["m_new"].subs(s_new, got["s_new"]) - (ms - rho * gs / ((1 - rho) * s + rho * h))) == 0


#: recipe -> (names of Σ_{i∈B} g_i and Σ_{i∈B} g_i² in the derivation): OGN at the mean, VOGN under q
DIAGONAL_GN = {"ogn": ("g_batch", "h_gn_batch"), "vogn": ("E_g_batch", "E_h_gn_batch")}


@pytest.mark.parametrize("name", list(DIAGONAL_GN))
def test_online_gauss_newton_elementwise(name):
    """s_{t+1} = (1 − ρ)s + ρ(N/M)Σ_{i∈B} g_i², m_{t+1} = m − ρ(N/M)ĝ/s_{t+1}, for one coordinate and for an
    explicit minibatch of M = 1, 2, 3 per-example gradients g_i (Khan & Rue 2023, Sec. 4.4)."""
    s, ms, s_new = sp.symbols("s m s_new")
    g_name, h_name = DIAGONAL_GN[name]
    got = updates(name)
    for M in (1, 2, 3):
        gs = sp.symbols(f"g_1:{M + 1}")
        terms = {sp.Symbol(g_name): sum(gs), sp.Symbol(h_name): sum(g ** 2 for g in gs), n_batch: M}
        s_tb = (1 - rho) * s + rho * (n_data / M) * sum(g ** 2 for g in gs)
        m_tb = ms - rho * (n_data / M) * sum(gs) / s_tb
        assert sp.simplify(got["s_new"].subs(terms) - s_tb) == 0
        assert sp.simplify(got["m_new"].subs(s_new, got["s_new"]).subs(terms) - m_tb) == 0


def test_improved_blr_is_the_retraction_form():
    """S_{t+1} = S + ρG + (ρ²/2) G S⁻¹ G with G = E_q[∇²ℓ] − S (Lin, Schmidt & Khan 2020), in general
    dimension; the mean step uses S_{t+1}."""
    got = updates("variational_newton_improved")
    B = got["B"]
    S_got = got["S_new"].subs(MatrixSymbol("B", D, D), B)
    G = E_H - S
    assert is_zero(S_got - (S + rho * G + rho**2 / 2 * G * sp.Inverse(S) * G))
    assert is_zero(got["m_new"] - (m - rho * sp.Inverse(S_new) * E_g))


def test_improved_vogn_is_the_retraction_form():
    """Elementwise: s_{t+1} = s + ρG + (ρ²/2) G²/s with G = (N/M)E[Σ_B g_i²] − s."""
    got = updates("vogn_improved")
    s_, h, r, N_, M_ = sp.symbols("s E_h_gn_batch rho n_data n_batch")
    G = N_ / M_ * h - s_
    s_got = got["s_new"].subs(sp.Symbol("b"), got["b"])
    assert sp.simplify(s_got - (s_ + r * G + r**2 / 2 * G**2 / s_)) == 0


def test_rmsprop_and_adam_textbook_forms():
    """RMSprop: v_{t+1} = (1 − ρ)v + ρḡ², m_{t+1} = m − αḡ/(√v_{t+1} + ε); Adam adds g̃_{t+1} = β₁g̃ + (1 − β₁)ḡ
    and m_{t+1} = m − α (g̃_{t+1}/(1 − β₁ᵗ)) / (√(v_{t+1}/(1 − (1 − ρ)ᵗ)) + ε) (Kingma & Ba 2015, with
    β₂ = 1 − ρ; Khan & Rue 2023, Sec. 4.2). Element by element, the new v substituted."""
    v, ms, g, lr, eps, b1, ga, t, r = sp.symbols("v m g_mean lr eps beta1 g_avg t rho", positive=True)
    v_new = (1 - r) * v + r * g**2
    for name in ("rmsprop", "adam"):
        got = {k: e.xreplace({x: sp.Symbol(x.name, positive=True) for x in e.free_symbols})
               for k, e in updates(name).items()}
        v_sym, ga_new_sym = sp.Symbol("v_new", positive=True), sp.Symbol("g_avg_new", positive=True)
        assert sp.simplify(got["v_new"] - v_new) == 0
        if name == "rmsprop":
            m_tb = ms - lr * g / (sp.sqrt(v_new) + eps)
        else:
            ga_new = b1 * ga + (1 - b1) * g
            assert sp.simplify(got["g_avg_new"] - ga_new) == 0
            # PyTorch's arrangement of √(v/(1 − β₂ᵗ)): √v / √(1 − β₂ᵗ) (equal: both factors are positive)
            m_tb = ms - lr * (ga_new / (1 - b1**t)) / (sp.sqrt(v_new) / sp.sqrt(1 - (1 - r) ** t) + eps)
        m_got = got["m_new"].subs({v_sym: v_new}).subs({ga_new_sym: b1 * ga + (1 - b1) * g})
        assert sp.simplify(m_got - m_tb) == 0, (name, m_got)


def test_vogn_is_ogn_at_a_sample():
    """Removing the delta method replaces the terms at the mean by their expectations under q_t, nothing else."""
    ogn, vogn = updates("ogn"), updates("vogn")
    at_mean = {sp.Symbol("E_g_batch"): sp.Symbol("g_batch"), sp.Symbol("E_h_gn_batch"): sp.Symbol("h_gn_batch")}
    for key in ("s_new", "m_new"):
        assert sp.simplify(vogn[key].subs(at_mean) - ogn[key]) == 0


def test_ridge_forgets_the_start():
    d = RECIPES["ridge"].derive()
    for eq in d.update + d.natural_update:
        assert not {"m", "S"} & {s.name for s in eq.rhs.atoms(MatrixSymbol)}, eq


def test_laplace_fixed_point():
    d = RECIPES["laplace"].derive()
    step = [s for s in d.steps if s.label == "Fixed point"]
    assert len(step) == 1 and step[0].citation == "Khan & Rue 2023, Sec. 4.4"
    assert [(e.lhs.name, e.rhs) for e in step[0].equations] == [("g_star", ZeroMatrix(D, 1)),
                                                                ("S_star", mat("H_star"))]
    # and it is one: S = H leaves S unchanged; ∇ℓ̄ = 0 leaves m unchanged
    got = updates("laplace")
    assert is_zero(got["S_new"].subs(S, H) - H)
    assert is_zero(got["m_new"].subs(g, ZeroMatrix(D, 1)) - m)


# -- Kalman: gain (Joseph) form against the information form --------------------------------

Hk, R, Pb, mb, yk = mat("obs_matrix", O, D), mat("R", O, O), mat("P_pred"), vec("m_pred"), vec("y", O)
dk = vec("d", O)  # observation offset


def test_kalman_information_form_general_dimension():
    """The natural update: S = P̄⁻¹ + HᵀR⁻¹H and λ₁ = P̄⁻¹m̄ + HᵀR⁻¹(y − d)."""
    lam = {eq.lhs.name: eq.rhs for eq in RECIPES["kalman_update"].derive().natural_update}
    assert is_zero(-2 * lam["lam_2_new"] - (Inverse(Pb) + Hk.T * Inverse(R) * Hk))
    assert is_zero(lam["lam_1_new"] - (Inverse(Pb) * mb + Hk.T * Inverse(R) * (yk - dk)))


@pytest.mark.parametrize("o", [1, 2])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_kalman_gain_form_equals_information_form(d, o):
    """P_{t+1} = (P̄⁻¹ + HᵀR⁻¹H)⁻¹ and m_{t+1} = P_{t+1}(P̄⁻¹m̄ + HᵀR⁻¹y), multiplied through by P̄ so
    that only the O×O inverses of C and R appear. Fully symbolic for D·O ≤ 2; beyond, P̄ and R are
    fixed rational SPD matrices, H a fixed rational matrix, and m̄, y stay symbolic (fully symbolic
    takes minutes to cancel: K holds C⁻¹, C quadratic in H)."""
    ups = RECIPES["kalman_update"].derive().update
    table = {mb: explicit("mb", d, d, 1), yk: explicit("y", o, o, 1), Hk: explicit("H", o, o, d),
             dk: explicit("d", o, o, 1)}
    if d * o > 2:
        table[Pb], table[R] = rational_spd("P_pred", d), rational_spd("R", o)
        table[Hk] = sp.Matrix(o, d, lambda i, j: sp.Rational(i + 2 * j + 1, 3) - i)
    else:
        table[Pb], table[R] = explicit("P", d, symmetric=True), explicit("R", o, symmetric=True)
    shapes = {D: d, O: o}
    table = {MatrixSymbol(k.name, *(x.subs(shapes) for x in k.shape)): v for k, v in table.items()}
    val = {}
    for eq in ups:  # v, C, K, m_new, P_new, each in terms of the earlier ones
        e = eq.rhs.subs(shapes).xreplace({**table, **val})
        val[MatrixSymbol(eq.lhs.name, *(x.subs(shapes) for x in eq.lhs.shape))] = sp.Matrix(e.doit())
    by = {k.name: v for k, v in val.items()}
    P_, H_ = table[MatrixSymbol("P_pred", d, d)], table[MatrixSymbol("obs_matrix", o, d)]
    Rinv = table[MatrixSymbol("R", o, o)].inv()
    m_ = table[MatrixSymbol("m_pred", d, 1)]
    y_ = table[MatrixSymbol("y", o, 1)] - table[MatrixSymbol("d", o, 1)]
    P_new, m_new = by["P_new"], by["m_new"]
    assert_entries_zero(P_new + P_new * H_.T * Rinv * H_ * P_ - P_)
    assert_entries_zero(m_new + P_ * H_.T * Rinv * H_ * m_new - m_ - P_ * H_.T * Rinv * y_)
    # the plain covariance update (I − KH)P̄ is the same matrix
    assert_entries_zero(P_new - (sp.eye(d) - by["K"] * H_) * P_)


# -- conjugate --------------------------------------------------------------------------------

def conjugate_textbook(name, n):
    """Textbook posterior for data y[1..n] (the derivation's IndexedBase y, 1-based)."""
    Y = sp.IndexedBase("y")
    ys = [Y[i] for i in range(1, n + 1)]
    a0, b0 = sp.symbols("alpha_0 beta_0")
    if name == "beta_bernoulli":
        return {"alpha_new": a0 + sum(ys), "beta_new": b0 + n - sum(ys)}
    if name == "gamma_poisson":
        return {"alpha_new": a0 + sum(ys), "beta_new": b0 + n}
    if name == "dirichlet_categorical":
        return {f"alpha_{k}_new": sp.Symbol(f"alpha_{k}_0") + sum(Y[i, k - 1] for i in range(1, n + 1))
                for k in (1, 2, 3)}
    if name == "gaussian_mean":
        m0, S0 = sp.symbols("m_0 S_0")
        S_N = S0 + n / s2
        return {"S_new": S_N, "m_new": (S0 * m0 + sum(ys) / s2) / S_N}
    if name == "normal_gamma":
        m0, k0 = sp.symbols("m_0 kappa_0")
        ybar = sum(ys) / n
        return {"kappa_new": k0 + n, "m_new": (k0 * m0 + n * ybar) / (k0 + n), "alpha_new": a0 + sp.Rational(n, 2),
                "beta_new": b0 + sum((yi - ybar) ** 2 for yi in ys) / 2 + k0 * n * (ybar - m0) ** 2 / (2 * (k0 + n))}
    raise KeyError(name)


CONJUGATE = ["beta_bernoulli", "gamma_poisson", "dirichlet_categorical", "gaussian_mean", "normal_gamma"]


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("name", CONJUGATE)
def test_conjugate_posterior(name, n):
    got = updates(name)
    want = conjugate_textbook(name, n)
    assert set(got) == set(want)
    for key, rhs in want.items():
        concrete_rhs = got[key].subs(N, n).doit()
        assert sp.simplify(concrete_rhs - rhs) == 0, (key, concrete_rhs)


# -- EM --------------------------------------------------------------------------------------------

def test_em_m_step_is_the_textbook_one():
    """The derived M-step in the statistics N_k, s_k, C_k, written out for three points in D = 2 with symbolic
    responsibilities, equals Bishop's (9.24)–(9.26): the new mean, the covariance centred at it, N_k / N."""
    d, n = 2, 3
    r = sp.symbols("r_1:4", positive=True)
    xs = [explicit(f"x{i}", d, cols=1) for i in range(n)]
    Nk = sum(r)
    textbook_m = sum((ri * xi for ri, xi in zip(r, xs)), sp.zeros(d, 1)) / Nk
    textbook_cov = sum(((ri * (xi - textbook_m) * (xi - textbook_m).T) for ri, xi in zip(r, xs)), sp.zeros(d, d)) / Nk
    stats = {sp.MatrixSymbol("s_k", D, 1): sp.ImmutableMatrix(sum((ri * xi for ri, xi in zip(r, xs)), sp.zeros(d, 1))),
             sp.MatrixSymbol("C_k", D, D): sp.ImmutableMatrix(sum((ri * xi * xi.T for ri, xi in zip(r, xs)),
                                                                  sp.zeros(d, d)))}
    got = {eq.lhs.name: eq.rhs for eq in RECIPES["em"].derive().update}
    m_new = got["means_new"].xreplace(stats).subs({sp.Symbol("N_k", positive=True): Nk, D: d}).doit()
    assert sp.simplify(sp.Matrix(m_new) - textbook_m) == sp.zeros(d, 1)
    cov = got["covariances_new"].xreplace(stats | {sp.MatrixSymbol("means_new", D, 1): sp.ImmutableMatrix(textbook_m)})
    cov = cov.subs({sp.Symbol("N_k", positive=True): Nk, D: d}).doit()
    assert sp.simplify(sp.Matrix(cov) - textbook_cov) == sp.zeros(d, d)
    N = sp.Symbol("N", positive=True)
    assert got["weights_new"] == sp.Symbol("N_k", positive=True) / N


def test_vmp_regression_rate_is_the_expected_squared_residual():
    """The derived rate's coefficient, for N = 2, D = 2 written out: ½(‖y − Xm‖² + tr(XᵀX S⁻¹)) (Bishop 10.3)."""
    n, d = 2, 2
    d_ = {a.target.name: a.expr for a in RECIPES["vmp_regression"].derive().assignments}
    c = d_["C_tau_1"]
    X, y, m = explicit("X", d, rows=n), explicit("y", n, cols=1), explicit("m", d, cols=1)
    S = explicit("S", d, symmetric=True)
    data = {sp.MatrixSymbol("X", N, D): sp.ImmutableMatrix(X), sp.MatrixSymbol("y", N, 1): sp.ImmutableMatrix(y)}
    hoisted = {a.target: a.expr.xreplace(data) for a in RECIPES["vmp_regression"].derive().assignments
               if a.target.name in ("XtX", "Xty")}  # the data products the sweep computes once
    assert set(h.name for h in hoisted) == {"XtX", "Xty"}
    got = c.xreplace(data | hoisted | {sp.MatrixSymbol("w_m_new", D, 1): sp.ImmutableMatrix(m),
                                      sp.MatrixSymbol("w_S_new", D, D): sp.ImmutableMatrix(S)}).subs({N: n, D: d}).doit()
    assert not got.atoms(sp.MatrixSymbol), got
    r = y - X * m
    want = ((r.T * r)[0] + (X.T * X * S.inv()).trace()) / 2
    assert sp.simplify(got - want) == 0
