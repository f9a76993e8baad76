"""Every recipe's update, typed by hand in the user syntax from its textbook or paper form, is identified as
that recipe with the right mapping of its parameters.

The forms below are written from the algorithms' usual statements (Khan & Rue 2023, Table 1; the papers
of each row), not printed from the derivations: names differ from the derivation's where the usual
name differs (``b2`` for Adam's decay, ``s2`` for a noise variance), which the solver must map back.
Matrix updates are written in one dimension (``inv(S)*g``), as the syntax reads them.
"""

import pytest
import sympy as sp

from blrkit.derive import RECIPES
from blrkit.reverse import identify, parse_update

from .tolerances import NUMERIC

#: recipe -> (update, states, gradients, hyperparameters, {derivation parameter: expected user expression})
FORMS = {
    "gradient_descent": ("m_new = m - lr*g", "m", "g", "lr", {"rho": "lr"}),
    "newton": ("S_new = H; m_new = m - inv(S_new)*g", "m S", "g H", "", {}),
    "damped_newton": ("S_new = (1 - r)*S + r*H; m_new = m - r*inv(S_new)*g", "m S", "g H", "r", {"rho": "r"}),
    "ridge": ("S_new = alpha + X*X/s2; m_new = inv(S_new)*X*y/s2", "m S", "", "alpha X y s2",
              {"noise_variance": "s2", "alpha": "alpha"}),
    "kalman_update": ("C = H*P_pred*H + R; K = P_pred*H/C; m_new = m_pred + K*(y - H*m_pred - d); "
                      "P_new = (1 - K*H)*P_pred", "m P", "", "H P_pred R y d m_pred", {"obs_matrix": "H"}),
    "laplace": ("S_new = (1 - r)*S + r*H; m_new = m - r*inv(S_new)*g", "m S", "g H", "r", {"rho": "r"}),
    "diagonal_newton": ("s_new = (1 - r)*s + r*h; m_new = m - r*g/s_new", "m s", "g h", "r", {"rho": "r"}),
    "variational_newton": ("S_new = (1 - r)*S + r*EH; m_new = m - r*inv(S_new)*Eg", "m S", "Eg EH", "r",
                           {"rho": "r"}),
    "beta_bernoulli": ("a_new = a0 + sum(y); b_new = b0 + N - sum(y)", "a b", "", "a0 b0 N y",
                       {"alpha_0": "a0", "beta_0": "b0"}),
    "gamma_poisson": ("a_new = a0 + sum(y); b_new = b0 + N", "a b", "", "a0 b0 N y", {"alpha_0": "a0", "beta_0": "b0"}),
    "dirichlet_categorical": ("a_new = a0 + sum(y)", "a", "", "a0 y", {"alpha_0": "a0"}),
    "gaussian_mean": ("S_new = S0 + N/s2; m_new = (S0*m0 + sum(y)/s2)/S_new", "m S", "", "S0 m0 N s2 y",
                      {"S_0": "S0", "m_0": "m0", "noise_variance": "s2"}),
    "normal_gamma": ("k_new = k0 + N; m_new = (k0*m0 + sum(y))/k_new; a_new = a0 + N/2; "
                     "b_new = b0 + (sum(y**2) - sum(y)**2/N)/2 + k0*N*(sum(y)/N - m0)**2/(2*k_new)",
                     "m k a b", "", "k0 m0 a0 b0 N y", {"kappa_0": "k0", "alpha_0": "a0", "beta_0": "b0"}),
    "multimodal": ("S_new = (1 - r)*S + r*H; m_new = m - r*inv(S_new)*g; "
                   "v_new = (1 - r)*v - r*(L - L_K + (logdet - logdet_K)/2)",
                   "m S v", "g H L L_K logdet logdet_K", "r", {"rho": "r"}),
    "ncvi": ("B = S + r*(EH + EHq); S_new = (S + B*inv(S)*B)/2; m_new = m - r*inv(S_new)*(Eg + Egq); "
             "v_new = v - r_pi*(El - El_K + Elq - Elq_K)", "m S v", "EH EHq Eg Egq El El_K Elq Elq_K", "r r_pi",
             {"rho": "r", "rho_pi": "r_pi"}),
    "vmp": ("E_tau = a/b; mS_new = S0 + N*E_tau; mm_new = (S0*m0 + E_tau*sum(y))/mS_new; a_new = a0 + N/2; "
            "b_new = b0 + (sum(y**2) - 2*mm_new*sum(y) + N*(mm_new**2 + 1/mS_new))/2",
            "mm mS a b", "", "S0 m0 N a0 b0 y", {"mu_S_0": "S0", "mu_m_0": "m0", "tau_alpha_0": "a0", "tau_beta_0": "b0"}),
    "vmp_regression": ("E_tau = a/b; S_new = alpha + E_tau*X**2; w_new = E_tau*X*y/S_new; a_new = a0 + N/2; "
                       "b_new = b0 + ((y - X*w_new)**2 + X**2/S_new)/2", "w S a b", "", "alpha X y N a0 b0",
                       {"tau_alpha_0": "a0", "tau_beta_0": "b0"}),
    "ncvmp": ("S_new = alpha + EH; m_new = m - inv(S_new)*(Eg + alpha*m)", "m S", "Eg EH", "alpha", {"alpha": "alpha"}),
    "em": ("pi_new = Nk/N; mu_new = sk/Nk; C_new = Ck/Nk - mu_new**2; P_new = 1/C_new", "pi mu C P", "Nk sk Ck", "N",
           {"N": "N"}),
    "svi": ("S_new = (1 - r)*S + r*(S0 + N/s2); m_new = ((1 - r)*S*m + r*(S0*m0 + N/M*sum(y)/s2))/S_new", "m S", "",
            "r S0 m0 N M s2 y", {"rho": "r", "S_0": "S0", "m_0": "m0"}),
    "svi_lda": ("lam_new = (1 - r)*lam + r*(eta + D*Skw/B)", "lam", "Skw", "r eta D B",
                {"rho": "r", "topic_word_prior": "eta", "total_docs": "D", "n_batch": "B"}),
    "bernoulli_exact": ("lam_new = (1 - r)*lam + r*(lam0 - dmu)", "lam", "dmu", "r lam0", {"rho": "r", "lam_0": "lam0"}),
    "bayesbinn": ("lam_new = (1 - r)*lam - r*(N*g - lam0)", "lam", "g", "r N lam0",
                  {"rho": "r", "n_data": "N", "lam_0": "lam0"}),
    "ste": ("w_new = w - lr*g", "w", "g", "lr", {"lr": "lr"}),
    # ρ N z g / (p M) fixes only the product of its parameters: names tell them apart (kp ~ keep_prob)
    "dropout": ("m_new = m - r*N/M*z*g/kp", "m", "g z", "r N M kp", {"keep_prob": "kp"}),
    "dropout_noise": ("m_new = m - r*N/M*z*g/kp", "m", "g z", "r N M kp", {"keep_prob": "kp"}),
    "sgd": ("m_new = m - r*N/B*g", "m", "g", "r N B", {}),
    "ogn": ("s_new = (1 - r)*s + r*N/M*gg; m_new = m - r*N/M*g/s_new", "m s", "g gg", "r N M", {"rho": "r"}),
    "vogn": ("s_new = (1 - r)*s + r*N/M*gg; m_new = m - r*N/M*g/s_new", "m s", "g gg", "r N M", {"rho": "r"}),
    "variational_newton_improved": ("B = (1 - r)*S + r*EH; S_new = (S + B*inv(S)*B)/2; m_new = m - r*inv(S_new)*Eg",
                                    "m S", "Eg EH", "r", {"rho": "r"}),
    "vogn_improved": ("b = (1 - r)*s + r*N/M*gg; s_new = (s + b**2/s)/2; m_new = m - r*N/M*g/s_new", "m s", "g gg",
                      "r N M", {"rho": "r"}),
    "rmsprop": ("v_new = b2*v + (1 - b2)*g**2; m_new = m - lr*g/(sqrt(v_new) + eps)", "m v", "g", "lr b2 eps",
                {"rho": "1 - b2", "lr": "lr", "eps": "eps"}),
    "adam": ("a_new = b1*a + (1 - b1)*g; v_new = b2*v + (1 - b2)*g**2; "
             "m_new = m - lr*(a_new/(1 - b1**t))/(sqrt(v_new/(1 - b2**t)) + eps)", "m v a", "g", "lr b1 b2 eps t",
             {"rho": "1 - b2", "beta1": "b1"}),
    "ivon": ("a_new = b1*a + (1 - b1)*gh; hh = ess*gd*(h + delta); "
             "h_new = (1 - r)*h + r*hh + r**2*(h - hh)**2/(2*(h + delta)); "
             "m_new = m - lr*(a_new/(1 - b1**t) + delta*m)/(h_new + delta)", "m h a", "gh gd",
             "b1 ess delta r lr t", {"rho": "r", "beta1": "b1", "weight_decay": "delta", "ess": "ess"}),
}
#: a row added since carries its form in its record (blrkit.derive.known.Record.textbook_form)
FORMS.update({name: r.textbook_form for name, r in RECIPES.items() if r.textbook_form is not None})


def test_every_recipe_has_a_hand_written_form():
    assert set(FORMS) == set(RECIPES)


@pytest.mark.parametrize("name", list(FORMS))
def test_recipe_identified_with_its_mapping(name):
    text, state, gradient, hyper, mapping = FORMS[name]
    r = identify(text, state=state, gradient=gradient, hyperparameters=hyper)
    assert r.matched, r.text()
    assert name in r.recipes, r.text()
    own = next(a for a in r.matches if a.candidate.key == name)
    assert all(v == 0 for v in own.residuals.values())
    for parameter, expected in mapping.items():
        got = own.parameters[parameter]
        assert sp.simplify(got - parse_update(f"x = {expected}")["x"]) == 0, (parameter, got, expected)
    if r.numeric is not None and r.numeric.ran:
        assert r.numeric.error <= NUMERIC, r.numeric.text()
