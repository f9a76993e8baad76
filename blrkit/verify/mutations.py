r"""Wrong variants of every emitted step: the mutations a row's live checks must reject.

Each emitted module of ``blrkit/algorithms/_generated`` has a list of wrong variants of its update
(a sign flip, a dropped (1 − ρ), the old precision for the new, a dropped K R Kᵀ, α₀ − 1, α₀ + N
for α₀ + N/2, a wrong N/M scale, …). A mutation is a regular expression applied, *in memory*, to
the code lines of the module's source whose text matches a selector (one output's line, say):
:func:`mutant` compiles the mutated module and returns its step function. :func:`installed` puts
it where the public drivers import it, for the duration of a ``with`` block, so that a row check
of :mod:`blrkit.verify` (which runs those drivers) runs the wrong step; :func:`killed` says
whether the row then fails by an *independent* check (a failed freshness check, the same code
twice, does not count). The *mutation score* of a recipe (:func:`score`) is how many of its wrong
variants its row rejects: the evidence that the row's checks can tell a right step from a wrong
one (``blrkit certify`` records it; ``tests/verify/test_mutations.py`` requires every one killed).

If the emitted text changes (the derive layer prints differently), a pattern that no longer
matches is reported by :func:`mutant` (``count == 0``): update the pattern in :data:`MUTATIONS`.

Most of these changes are now made from the derivation itself by :mod:`blrkit.verify.variants` (rules over
the roles of the symbols of its SymPy update, printed by the same printer): :data:`REPRODUCED` names, for
each entry a rule reproduces, the variant that does (104 of the 149; 9 by the rules over the IR's oracle
nodes). The other 45 rewrite oracle nodes no rule rewrites yet or make a change no rule makes, and are this
table's own.

>>> [name for name, *_ in MUTATIONS["gradient_descent"][3]]
['sign of the gradient', 'rho dropped']
>>> mutate("m_new = m - rho*g\n", r"^m_new =", r"\bg\b", "(-g)")
('m_new = m - rho*(-g)\n', 1)
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable

__all__ = ["MUTATIONS", "REPRODUCED", "Score", "cases", "installed", "killed", "mutant", "mutate", "rejected", "score"]

#: module -> (function, (driver module, ...), (rows, ...), [(mutation name, line selector, pattern, replacement)])
MUTATIONS = {
    "gradient_descent": ("gradient_descent_step", ("blrkit.algorithms.gradient_descent",), ("gradient_descent",), [
        ("sign of the gradient", r"^\s*m_new =", r"\bg\b", "(-g)"),
        ("rho dropped", r"^\s*m_new =", r"\brho\b", "xp.ones_like(rho)"),
    ]),
    "sgd": ("sgd_step", ("blrkit.algorithms.sgd",), ("sgd",), [
        ("sign of the gradient", r"^\s*m_new =", r"\bg_batch\b", "(-g_batch)"),
        ("no N/M scale", r"^\s*m_new =", r"\bn_data\b", "n_batch"),
        ("M/N for N/M", r"^\s*m_new =", r"\bn_data\*rho/n_batch\b", "n_batch*rho/n_data"),
    ]),
    "newton": ("newton_step", ("blrkit.algorithms.newton",), ("newton",), [
        ("sign of the gradient", r"^\s*m_new =", r"\bg\b", "(-g)"),
        ("gradient step, no Hessian", r"^\s*m_new =", r"xp\.linalg\.solve\(S_new, g\[\.\.\., None\]\)\[\.\.\., 0\]", "g"),
        ("precision output doubled", r"^\s*return m_new, S_new", r"S_new$", "2 * S_new"),
    ]),
    # one module, two recipes: Laplace's method runs the damped BLR-Newton step (its own driver imports it)
    "damped_newton": ("damped_newton_step", ("blrkit.algorithms.newton", "blrkit.algorithms.laplace"),
                      ("damped_newton", "laplace"), [
        ("sign of the gradient", r"^\s*m_new =", r"\bg\b", "(-g)"),
        ("dropped (1 - rho)", r"^\s*S_new =", r"\(1 - rho\)", "xp.ones_like(rho)"),
        ("old precision in the mean step", r"^\s*m_new =", r"\bS_new\b", "S"),
        ("rho dropped on the Hessian", r"^\s*S_new =", r"(?<!1 - )\brho\b", "xp.ones_like(rho)"),
        ("old precision returned", r"^\s*return m_new, S_new", r"S_new$", "S"),
    ]),
    "diagonal_newton": ("diagonal_newton_step", ("blrkit.algorithms.diagonal_newton",), ("diagonal_newton",), [
        ("sign of the gradient", r"^\s*m_new =", r"\bg\b", "(-g)"),
        ("dropped (1 - rho)", r"^\s*s_new =", r"\(1 - rho\)", "1"),
        ("old precision in the mean step", r"^\s*m_new =", r"\bs_new\b", "s"),
        ("rho dropped on the Hessian", r"^\s*s_new =", r"(?<!1 - )\brho\b", "1"),
    ]),
    "variational_newton": ("variational_newton_step", ("blrkit.algorithms.variational_newton",),
                           ("variational_newton",), [
        ("sign of the gradient", r"^\s*m_new =", r"\bE_g\b", "(-E_g)"),
        ("dropped (1 - rho)", r"^\s*S_new =", r"\(1 - rho\)", "xp.ones_like(rho)"),
        ("old precision in the mean step", r"^\s*m_new =", r"\bS_new\b", "S"),
        ("samples with L^-1 for L^-T", r"^\s*theta =", r"L\.mT", "L"),
        ("Hessian at the mean (delta method)", r"^\s*E_H =", r"hess\(theta\)", "hess(m + 0 * theta)"),
    ]),
    "variational_newton_improved": ("improved_variational_newton_step", ("blrkit.algorithms.variational_newton",),
                                    ("variational_newton_improved",), [
        ("sign of the gradient", r"^\s*m_new =", r"\bE_g\b", "(-E_g)"),
        ("half the retraction term", r"^\s*S_new =", r"1/2 \* \(B", "1/4 * (B"),
        ("old precision in the mean step", r"^\s*m_new =", r"\bS_new\b", "S"),
        ("S_t counted twice", r"^\s*S_new =", r"^(\s*S_new = )1/2 \* S", r"\1S"),
        ("dropped (1 - rho)", r"^\s*B =", r"\(1 - rho\)", "xp.ones_like(rho)"),
    ]),
    "vogn_improved": ("improved_vogn_step", ("blrkit.algorithms.ogn",), ("vogn_improved",), [
        ("sign of the gradient", r"^\s*m_new =", r"\bE_g_batch\b", "(-E_g_batch)"),
        ("plain BLR precision (no retraction term)", r"^\s*s_new =", r"^(\s*s_new = ).*$", r"\1b"),
        ("old precision in the mean step", r"^\s*m_new =", r"\bs_new\b", "s"),
        ("no N/M scale", r"^\s*b =", r"\bn_data\b", "n_batch"),
    ]),
    "ogn": ("ogn_step", ("blrkit.algorithms.ogn",), ("ogn",), [
        ("sign of the gradient", r"^\s*m_new =", r"\bg_batch\b", "(-g_batch)"),
        ("no N/M scale on the precision", r"^\s*s_new =", r"\bn_data\b", "n_batch"),
        ("no N/M scale on the mean", r"^\s*m_new =", r"\bn_data\b", "n_batch"),
        ("dropped (1 - rho)", r"^\s*s_new =", r"\(1 - rho\)", "1"),
        ("old precision in the mean step", r"^\s*m_new =", r"\bs_new\b", "s"),
        ("square of the sum for the sum of squares", r"^\s*h_gn_batch =", r"\bg_sq\b", "g_sum**2"),
    ]),
    "vogn": ("vogn_step", ("blrkit.algorithms.ogn",), ("vogn",), [
        ("sign of the gradient", r"^\s*m_new =", r"\bE_g_batch\b", "(-E_g_batch)"),
        ("no N/M scale on the precision", r"^\s*s_new =", r"\bn_data\b", "n_batch"),
        ("dropped (1 - rho)", r"^\s*s_new =", r"\(1 - rho\)", "1"),
        ("old precision in the mean step", r"^\s*m_new =", r"\bs_new\b", "s"),
        ("samples with variance for standard deviation", r"^\s*theta =", r"xp\.sqrt\(s\)", "s"),
    ]),
    "rmsprop": ("rmsprop_step", ("blrkit.algorithms.rmsprop",), ("rmsprop",), [
        ("sign of the gradient", r"^\s*m_new =", r"\bg_mean\b", "(-g_mean)"),
        ("no decay of v (dropped (1 - rho))", r"^\s*v_new =", r"\s*-\s*rho\*v\b", ""),
        ("no square root", r"^\s*m_new =", r"xp\.sqrt\(v_new\)", "v_new"),
        ("old v in the mean step", r"^\s*m_new =", r"\bv_new\b", "v"),
        ("rho dropped on g^2", r"^\s*v_new =", r"\brho\*g_mean\*\*2\b", "g_mean**2"),
    ]),
    "adam": ("adam_step", ("blrkit.algorithms.adam",), ("adam",), [
        ("sign of the gradient average", r"^\s*m_new =", r"\bg_avg_new\b", "(-g_avg_new)"),
        ("raw gradient for its average", r"^\s*m_new =", r"\bg_avg_new\b", "g_mean"),
        ("no bias correction of the average", r"^\s*m_new =", r"\(1 - beta1\*\*t\)\*", ""),
        ("no bias correction of v", r"^\s*m_new =", r"/\(1 - \(1 - rho\)\*\*t\)\*\*0\.5", ""),
        ("no decay of the average", r"^\s*g_avg_new =", r"\bbeta1\*g_avg\b", "g_avg"),
        ("old v in the mean step", r"^\s*m_new =", r"\bv_new\b", "v"),
    ]),
    "ivon": ("ivon_step", ("blrkit.algorithms.ivon",), ("ivon",), [
        ("sign of the gradient average", r"^\s*m_new =", r"\bg_avg_new\b", "(-g_avg_new)"),
        ("old Hessian in the mean step", r"^\s*m_new =", r"\bh_avg_new\b", "h_avg"),
        ("plain BLR (no iBLR term)", r"^\s*h_avg_new =", r"\s*\+ \(\(1/2\)\*rho\*\*2\)\*.*$", ""),
        ("ess dropped from the Hessian estimate", r"^\s*h_hat =", r"\bess\*", ""),
        ("no bias correction", r"^\s*m_new =", r"/\(1 - beta1\*\*t\)", ""),
        ("no weight decay in the mean step", r"^\s*m_new =", r" \+ m\*weight_decay", ""),
        ("samples with variance for standard deviation", r"^\s*theta =", r"xp\.sqrt\(s\)", "s"),
    ]),
    "multimodal": ("mixture_newton_step", ("blrkit.algorithms.mixture",), ("multimodal",), [
        ("sign of the gradient", r"^\s*m_new =", r"\bg\[", "(-g)["),
        ("old precision in the mean step", r"^\s*m_new =", r"solve\(S_new,", "solve(S,"),
        ("dropped (1 - rho)", r"^\s*S_new =", r"\(1 - rho\)\[\.\.\., None, None\] \* S", "S"),
        ("no determinant in the evidence", r"^\s*v_new =", r"logdet_S \+ 2\*loss_m - logdet_S_K", "2*loss_m"),
        ("sign of the determinant", r"^\s*v_new =", r"\(logdet_S \+", "(-logdet_S +"),
        ("no decay of the log-weights", r"^\s*v_new =", r"v\*\(1 - rho\)", "v"),
    ]),
    "ncvi": ("mixture_vi_step", ("blrkit.algorithms.mixture",), ("ncvi",), [
        ("sign of the gradient", r"^\s*m_new =", r"\(E_g_k \+ E_glogq\)", "(E_glogq - E_g_k)"),
        ("old precision in the mean step", r"^\s*m_new =", r"solve\(S_new,", "solve(S,"),
        ("plain BLR (no retraction term)", r"^\s*S_new =", r"^(\s*S_new = ).*$", r"\1B"),
        ("entropy of q dropped from the mean", r"^\s*m_new =", r" \+ E_glogq", ""),
        ("log q dropped from the weights", r"^\s*v_new =", r"E_logq \+ E_loss_k - E_logq_K", "E_loss_k"),
        ("samples with S^-1 for S^-1/2", r"^\s*theta =", r"L\.mT", "S"),
    ]),
    "vmp": ("vmp_sweep", ("blrkit.algorithms.vmp",), ("vmp",), [
        ("old q(mu) for q(tau) (Jacobi, not Gauss-Seidel)", r"^\s*E_mu_1 = mu_m_new", r"mu_m_new", "mu_m"),
        ("E[mu]^2 for E[mu^2]", r"^\s*E_mu_2 = mu_m_new", r" \+ \(1/mu_S_new\)", ""),
        ("prior precision dropped", r"^\s*mu_S_new =", r"mu_S_0 \+ ", ""),
        ("N for N/2 in the shape", r"^\s*tau_alpha_new =", r"\(1/2\)\*N", "N"),
        ("sign of the data term in the rate", r"^\s*tau_beta_new =", r"2\*E_mu_1\*xp", "-2*E_mu_1*xp"),
    ]),
    "ncvmp": ("ncvmp_step", ("blrkit.algorithms.ncvmp",), ("ncvmp",), [
        ("sign of the gradient", r"^\s*m_new =", r"\+ E_g\)", "- E_g)"),
        ("variance of the predictive dropped (delta method)", r"^\s*eta = ", r"xp\.sqrt\(2 \* eta_var\)",
         "(0 * eta_var)"),
        ("sd for variance in the nodes", r"^\s*eta = ", r"xp\.sqrt\(2 \* eta_var\)", "2 * eta_var"),
        ("prior dropped from the precision", r"^\s*S_new =", r"alpha\[\.\.\., None, None\] \* xp\.eye\(X\.shape\[-1\], dtype=dtype, device=device\(X\)\) \+ ", ""),
        ("weights not normalised", r"^\s*d1 =", r" / math\.sqrt\(math\.pi\)", ""),
        ("the ±1 logistic loss fed labels in {0, 1}", r"^\s*d1 =", r"expit\(eta\) - y_nodes",
         "-y_nodes*expit(-eta*y_nodes)"),
    ]),
    "vmp_regression": ("vmp_regression_sweep", ("blrkit.algorithms.vmp",), ("vmp_regression",), [
        ("prior precision dropped", r"^\s*w_S_new =", r"alpha\[\.\.\., None, None\] \* xp\.eye\(X\.shape\[-1\], dtype=dtype, device=device\(X\)\) \+ ", ""),
        ("E[tau] dropped from the mean", r"^\s*w_m_new =", r"E_tau_2\[\.\.\., None\] \* ", ""),
        ("posterior covariance dropped from the rate (E[w]E[w]^T for E[ww^T])", r"^\s*C_tau_1 =",
         r"\(1/2\) \* xp\.linalg\.trace\(xp\.linalg\.solve\(w_S_new, XtX\)\) \+ ", ""),
        ("N for N/2 in the shape", r"^\s*tau_alpha_new =", r"\(1/2\)\*N", "N"),
        ("sign of the cross term of the residual", r"^\s*C_tau_1 =", r" - xp\.sum\(w_m_new", " + xp.sum(w_m_new"),
    ]),
    "svi_lda": ("svi_lda_step", ("blrkit.algorithms.svi",), ("svi_lda",), [
        ("no D/|B| scale", r"^\s*lam_new =", r"\*total_docs/n_batch", ""),
        ("dropped (1 - rho)", r"^\s*lam_new =", r"lam\*\(1 - rho\)", "lam"),
        ("prior eta dropped", r"^\s*lam_new =", r" \+ topic_word_prior", ""),
        ("alpha dropped from the local update", r"^\s*new = ", r"doc_topic_prior \+ ", ""),
        ("E[log beta] without its normaliser", r"^\s*exp_elog_beta = ", r" - digamma\(xp\.sum\(lam, axis=-1, keepdims=True\)\)", ""),
        ("statistics at the start gamma, not the fixed point", r"^\s*gamma = xp\.where", r"new, gamma\)", "gamma, gamma)"),
    ]),
    "bernoulli_exact": ("bernoulli_blr_step", ("blrkit.algorithms.binary",), ("bernoulli_exact",), [
        ("sign of the gradient", r"^\s*lam_new =", r"lam_0 - dmu", "lam_0 + dmu"),
        ("dropped (1 - rho)", r"^\s*lam_new =", r"lam\*\(1 - rho\)", "lam"),
        ("no 1/2 in the pairing", r"^\s*dmu = ", r"0\.5 \* ", ""),
        ("q(w) itself for the product over k != j", r"^\s*dmu = ", r"before \* after", "before * after * f"),
        ("prior dropped", r"^\s*lam_new =", r"lam_0 - dmu", "-dmu"),
    ]),
    "dropout_noise": ("dropout_noise_step", ("blrkit.algorithms.dropout",), ("dropout_noise",), [
        ("no noise (the delta method)", r"^\s*g_noise =", r" \+ slab_sd \* eps", ""),
        ("noise on the dropped weights too", r"^\s*g_noise =", r"z_mask \* \(m \+ slab_sd \* eps\)",
         "z_mask * m + slab_sd * eps"),
        ("no 1/p", r"^\s*m_new =", r"/keep_prob$", ""),
        ("sign of the gradient", r"^\s*m_new =", r"m - \(n_data", "m + (n_data"),
    ]),
    "em": ("em_step", ("blrkit.algorithms.em",), ("em",), [
        ("old mean in the covariance", r"^\s*covariances_new =", r"means_new\[\.\.\., :, None\] \* means_new",
         "means[..., :, None] * means"),
        ("sign of the mean outer product", r"^\s*covariances_new =", r" - means_new", " + means_new"),
        ("dropped 1/N_k in the second moment", r"^\s*covariances_new =", r"\(1/N_k\)\[\.\.\., None, None\] \* ", ""),
        ("weights not normalised by N", r"^\s*weights_new =", r"N_k/N", "N_k"),
        ("responsibilities not normalised", r"^\s*r = ", r" - log_norm\[\.\.\., None\]", ""),
        ("log-determinant dropped from A", r"^\s*c = ", r"xp\.sum\(xp\.log\(xp\.linalg\.diagonal\(xp\.linalg\.cholesky\(precisions\)\)\), axis=-1\) - ", "-"),
        ("sign of the linear term of <eta, T(x)>", r"^\s*lam = ", r"= X @ ", "= -X @ "),
        ("sign of the quadratic term of <eta, T(x)>", r"^\s*eta_2 = ", r"-1/2 \* ", "1/2 * "),
        ("covariance for precision (no inverse)", r"^\s*precisions_new =", r"xp\.linalg\.solve\(covariances_new, xp\.eye\(X\.shape\[-1\], dtype=dtype, device=device\(X\)\)\)",
         "covariances_new"),
    ]),
    "svi": ("svi_step", ("blrkit.algorithms.svi",), ("svi",), [
        ("no N/M scale on the data", r"^\s*m_new =", r"n_data\*rho\*xp\.sum", "M*rho*xp.sum"),
        ("dropped (1 - rho) on the precision", r"^\s*S_new =", r" - S\*rho$", ""),
        ("old precision in the mean (rho dropped on S_0)", r"^\s*m_new =", r"M\*S_0\*m_0\*noise_variance\*rho", "M*S_0*m_0*noise_variance"),
        ("N for N/M in the precision", r"^\s*S_new =", r"n_data\*rho/noise_variance", "M*rho/noise_variance"),
    ]),
    "bayesbinn": ("bayesbinn_step", ("blrkit.algorithms.binary",), ("bayesbinn",), [
        ("sign of the gradient", r"^\s*lam_new =", r" - \(n_data\*rho\)\*E_sg_mean", " + (n_data*rho)*E_sg_mean"),
        ("no Fisher information (the lambda-gradient for the mu-gradient)", r"^\s*log_s =",
         r"2 \* \(xp\.abs\(lam\) - xp\.abs\(z\)\)", "-2 * xp.abs(z)"),
        ("dropped (1 - rho)", r"^\s*lam_new =", r" - rho\*lam$", ""),
        ("no N", r"^\s*lam_new =", r"\(n_data\*rho\)", "rho"),
        ("twice the logistic noise", r"^\s*z = ", r"0\.5 \*", "1.0 *"),
    ]),
    "ste": ("ste_step", ("blrkit.algorithms.binary",), ("ste",), [
        ("sign of the gradient", r"^\s*lam_new =", r"lam - g_sign", "lam + g_sign"),
        ("gradient at the latent weights (no binarisation)", r"^\s*w = ", r"2\.0 \* xp\.astype\(lam >= 0, dtype\) - 1\.0",
         "lam"),
    ]),
    "dropout": ("dropout_step", ("blrkit.algorithms.dropout",), ("dropout",), [
        ("sign of the gradient", r"^\s*m_new =", r"m - \(n_data", "m + (n_data"),
        ("no 1/p (the BLR's importance weight)", r"^\s*m_new =", r"/keep_prob$", ""),
        ("every weight moves (mask dropped from the update)", r"^\s*m_new =", r"\*z_mask", ""),
        ("gradient at the unmasked weights", r"^\s*g_masked =", r"z_mask \* m", "m"),
    ]),
    "ridge": ("ridge_posterior", ("blrkit.algorithms.ridge",), ("ridge",), [
        ("no 1/sigma^2 in the precision", r"^\s*S_new =", r"1/noise_variance", "xp.ones_like(noise_variance)"),
        ("no 1/sigma^2 in the mean", r"^\s*m_new =", r"1/noise_variance", "xp.ones_like(noise_variance)"),
        ("prior dropped", r"^\s*S_new =", r"\balpha\b", "(0 * alpha)"),
        ("precision output off by I", r"^\s*return m_new, S_new", r"S_new$", "S_new + xp.eye(X.shape[-1], dtype=dtype, device=device(X))"),
    ]),
    "kalman_update": ("kalman_update", ("blrkit.algorithms.kalman.model",), ("kalman_update",), [
        ("dropped K R K^T", r"^\s*P_new =", r"\s*\+\s*\(*K @ R\)? @ K\.mT\)?$", ""),
        ("sign of the observation", r"^\s*v =", r"\by\b", "(-y)"),
        ("2R in the innovation covariance", r"^\s*C =", r"\bR$", "(2 * R)"),
        ("observation offset ignored", r"^\s*v =", r"\by - d\b", "y"),
        ("sign of the observation offset", r"^\s*v =", r"\by - d\b", "y + d"),
        ("innovation covariance output doubled", r"^\s*return m_new, P_new, K, v, C", r"\bC$", "2 * C"),
    ]),
    "beta_bernoulli": ("beta_bernoulli_posterior", ("blrkit.algorithms.conjugate",), ("beta_bernoulli",), [
        ("alpha_0 - 1", r"^\s*alpha_new =", r"\balpha_0\b", "(alpha_0 - 1)"),
        ("beta_0 - 1", r"^\s*beta_new =", r"\bbeta_0\b", "(beta_0 - 1)"),
    ]),
    "gamma_poisson": ("gamma_poisson_posterior", ("blrkit.algorithms.conjugate",), ("gamma_poisson",), [
        ("alpha_0 - 1", r"^\s*alpha_new =", r"\balpha_0\b", "(alpha_0 - 1)"),
        ("beta_0 + N/2", r"^\s*beta_new =", r"\bN\b", "(N / 2)"),
    ]),
    "dirichlet_categorical": ("dirichlet_categorical_posterior", ("blrkit.algorithms.conjugate",),
                              ("dirichlet_categorical",), [
        ("alpha_0 - 1", r"^\s*alpha_new =", r"\balpha_0\b", "(alpha_0 - 1)"),
        ("first datum dropped", r"^\s*alpha_new =", r"xp\.sum\(y, axis=-2\)", "xp.sum(y[..., 1:, :], axis=-2)"),
    ]),
    "gaussian_mean": ("gaussian_mean_posterior", ("blrkit.algorithms.conjugate",), ("gaussian_mean",), [
        ("N sigma^2 for N / sigma^2", r"^\s*S_new =", r"\bnoise_variance\b", "(1 / noise_variance)"),
        ("prior mean dropped", r"^\s*m_new =", r"\bm_0\b", "(0 * m_0)"),
    ]),
    "normal_gamma": ("normal_gamma_posterior", ("blrkit.algorithms.conjugate",), ("normal_gamma",), [
        ("alpha_0 + N for alpha_0 + N/2", r"^\s*alpha_new =", r"\bN\b", "(2 * N)"),
        ("kappa_0 + N + 1", r"^\s*kappa_new =", r"\bN\b", "(N + 1)"),
        ("prior mean off by one", r"^\s*m_new =", r"\bm_0\b", "(m_0 + 1)"),
        ("beta_0 doubled", r"^\s*beta_new =", r"\bbeta_0\b", "(2 * beta_0)"),
    ]),
}



#: (module, mutation) -> the variant of :mod:`blrkit.verify.variants` that reproduces it: the entries above that
#: the rules make from the derivation (the same outputs on the inputs the row's driver passes the step; checked
#: by tests/verify/test_mutations.py). They stay here while ``blrkit certify`` scores by this table; the others
#: rewrite oracle lines (code, not SymPy: sampling, quadrature, the E-step, LDA's local loop) or make a change
#: no rule makes (an output doubled, S counted twice, a half for a quarter).
REPRODUCED = MappingProxyType({
    ("gradient_descent", "sign of the gradient"): "sign of g in m_new",
    ("gradient_descent", "rho dropped"): "rho dropped in m_new",
    ("sgd", "sign of the gradient"): "sign of g_batch in m_new",
    ("sgd", "no N/M scale"): "n_data for n_batch in m_new",
    ("sgd", "M/N for N/M"): "n_batch and n_data swapped in m_new",
    ("newton", "sign of the gradient"): "sign of g in m_new",
    ("newton", "gradient step, no Hessian"): "no S_new**(-1) in m_new",
    ("damped_newton", "sign of the gradient"): "sign of g in m_new",
    ("damped_newton", "dropped (1 - rho)"): "(1 - rho) dropped in S_new",
    ("damped_newton", "old precision in the mean step"): "old S for S_new in m_new",
    ("damped_newton", "rho dropped on the Hessian"): "rho dropped in S_new",
    ("damped_newton", "old precision returned"): "old S returned for S_new",
    ("diagonal_newton", "sign of the gradient"): "sign of g in m_new",
    ("diagonal_newton", "dropped (1 - rho)"): "(1 - rho) dropped in s_new",
    ("diagonal_newton", "old precision in the mean step"): "old s for s_new in m_new",
    ("diagonal_newton", "rho dropped on the Hessian"): "rho dropped in s_new",
    ("variational_newton", "sign of the gradient"): "sign of E_g in m_new",
    ("variational_newton", "dropped (1 - rho)"): "(1 - rho) dropped in S_new",
    ("variational_newton", "old precision in the mean step"): "old S for S_new in m_new",
    ("variational_newton_improved", "sign of the gradient"): "sign of E_g in m_new",
    ("variational_newton_improved", "old precision in the mean step"): "old S for S_new in m_new",
    ("variational_newton_improved", "dropped (1 - rho)"): "(1 - rho) dropped in B",
    ("vogn_improved", "sign of the gradient"): "sign of E_g_batch in m_new",
    ("vogn_improved", "old precision in the mean step"): "old s for s_new in m_new",
    ("vogn_improved", "no N/M scale"): "n_data for n_batch in b",
    ("ogn", "sign of the gradient"): "sign of g_batch in m_new",
    ("ogn", "no N/M scale on the precision"): "n_data for n_batch in s_new",
    ("ogn", "no N/M scale on the mean"): "n_data for n_batch in m_new",
    ("ogn", "dropped (1 - rho)"): "(1 - rho) dropped in s_new",
    ("ogn", "old precision in the mean step"): "old s for s_new in m_new",
    ("vogn", "sign of the gradient"): "sign of E_g_batch in m_new",
    ("vogn", "no N/M scale on the precision"): "n_data for n_batch in s_new",
    ("vogn", "dropped (1 - rho)"): "(1 - rho) dropped in s_new",
    ("vogn", "old precision in the mean step"): "old s for s_new in m_new",
    ("rmsprop", "sign of the gradient"): "sign of g_mean in m_new",
    ("rmsprop", "no decay of v (dropped (1 - rho))"): "term -rho*v dropped in v_new",
    ("rmsprop", "no square root"): "2 * 1/2 for 1/2 in m_new",
    ("rmsprop", "old v in the mean step"): "old v for v_new in m_new",
    ("adam", "sign of the gradient average"): "-lr for lr in m_new",
    ("adam", "no bias correction of the average"): "no 1/(1 - beta1**t) in m_new",
    ("adam", "old v in the mean step"): "old v for v_new in m_new",
    ("ivon", "old Hessian in the mean step"): "old h_avg for h_avg_new in m_new",
    ("ivon", "plain BLR (no iBLR term)"): "term rho**2*(h_avg - h_hat)**2/(2*(h_avg +... dropped in h_avg_new",
    ("ivon", "ess dropped from the Hessian estimate"): "1 for ess in h_hat",
    ("ivon", "no bias correction"): "no 1/(1 - beta1**t) in m_new",
    ("multimodal", "sign of the gradient"): "sign of g in m_new",
    ("multimodal", "dropped (1 - rho)"): "(1 - rho) dropped in S_new",
    ("multimodal", "sign of the determinant"): "sign of logdet_S in v_new",
    ("multimodal", "no decay of the log-weights"): "(1 - rho) dropped in v_new",
    ("ncvi", "sign of the gradient"): "sign of E_g_k in m_new",
    ("vmp", "E[mu]^2 for E[mu^2]"): "term 1/mu_S_new dropped in E_mu_2",
    ("vmp", "prior precision dropped"): "term mu_S_0 dropped in mu_S_new",
    ("vmp", "N for N/2 in the shape"): "2 N for N in tau_alpha_new",
    ("vmp", "sign of the data term in the rate"): "sign of y[i] in tau_beta_new",
    ("ncvmp", "sign of the gradient"): "sign of E_g in m_new",
    ("ncvmp", "prior dropped from the precision"): "term alpha*I dropped in S_new",
    ("vmp_regression", "prior precision dropped"): "term alpha*I dropped in w_S_new",
    ("vmp_regression", "posterior covariance dropped from the rate (E[w]E[w]^T for E[ww^T])"): "term Trace(XtX*w_S_new**(-1))/2 dropped in C_tau_1",
    ("vmp_regression", "N for N/2 in the shape"): "2 * 1/2 for 1/2 in tau_alpha_new",
    ("svi_lda", "dropped (1 - rho)"): "(1 - rho) dropped in lam_new",
    ("bernoulli_exact", "sign of the gradient"): "sign of dmu in lam_new",
    ("bernoulli_exact", "dropped (1 - rho)"): "(1 - rho) dropped in lam_new",
    ("dropout_noise", "no 1/p"): "1 for keep_prob in m_new",
    ("dropout_noise", "sign of the gradient"): "sign of g_noise in m_new",
    ("em", "old mean in the covariance"): "old means for means_new in covariances_new",
    ("em", "dropped 1/N_k in the second moment"): "no 1/N_k in covariances_new",
    ("em", "weights not normalised by N"): "no 1/N in weights_new",
    ("em", "covariance for precision (no inverse)"): "covariances_new for its inverse in precisions_new",
    ("svi", "no N/M scale on the data"): "n_data for M in m_new",
    ("svi", "dropped (1 - rho) on the precision"): "term -S*rho dropped in S_new",
    ("bayesbinn", "sign of the gradient"): "sign of E_sg_mean in lam_new",
    ("bayesbinn", "dropped (1 - rho)"): "term -lam*rho dropped in lam_new",
    ("bayesbinn", "no N"): "n_data dropped in lam_new",
    ("ste", "sign of the gradient"): "sign of g_sign in lam_new",
    ("dropout", "sign of the gradient"): "sign of g_masked in m_new",
    ("dropout", "no 1/p (the BLR's importance weight)"): "1 for keep_prob in m_new",
    ("ridge", "no 1/sigma^2 in the precision"): "1 for noise_variance in S_new",
    ("ridge", "no 1/sigma^2 in the mean"): "1 for noise_variance in m_new",
    ("ridge", "prior dropped"): "term alpha*I dropped in S_new",
    ("kalman_update", "dropped K R K^T"): "term K*R*K.T dropped in P_new",
    ("kalman_update", "sign of the observation"): "-y for y in v",
    ("kalman_update", "2R in the innovation covariance"): "2 R for R in C",
    ("kalman_update", "observation offset ignored"): "term -d dropped in v",
    ("kalman_update", "sign of the observation offset"): "-d for d in v",
    ("beta_bernoulli", "alpha_0 - 1"): "alpha_0 - 1 for alpha_0 in alpha_new",
    ("beta_bernoulli", "beta_0 - 1"): "beta_0 - 1 for beta_0 in beta_new",
    ("gamma_poisson", "alpha_0 - 1"): "alpha_0 - 1 for alpha_0 in alpha_new",
    ("gamma_poisson", "beta_0 + N/2"): "N/2 for N in beta_new",
    ("dirichlet_categorical", "alpha_0 - 1"): "alpha_0 - 1 for alpha_0 in alpha_new",
    ("gaussian_mean", "N sigma^2 for N / sigma^2"): "noise_variance for its inverse in S_new",
    ("gaussian_mean", "prior mean dropped"): "term S_0*m_0*noise_variance/(N + S_0*noise... dropped in m_new",
    ("normal_gamma", "alpha_0 + N for alpha_0 + N/2"): "2 N for N in alpha_new",
    ("normal_gamma", "kappa_0 + N + 1"): "kappa_0 + 1 for kappa_0 in kappa_new",
    ("normal_gamma", "prior mean off by one"): "m_0 + 1 for m_0 in m_new",
    ("normal_gamma", "beta_0 doubled"): "2 beta_0 for beta_0 in beta_new",
    # made by the rules over the IR's oracle nodes (blrkit.verify.variants.NODE_RULES)
    ("ncvi", "samples with S^-1 for S^-1/2"): "S for its Cholesky factor in theta",
    ("variational_newton", "Hessian at the mean (delta method)"): "hess at m for E_H",
    ("dropout_noise", "no noise (the delta method)"): "eps*slab_sd dropped from the point of grad_batch",
    ("dropout", "gradient at the unmasked weights"): "z_mask dropped from the point of grad_batch",
    ("ste", "gradient at the latent weights (no binarisation)"): "lam for sign(lam) in w",
    ("ncvmp", "variance of the predictive dropped (delta method)"): "1 Gauss–Hermite node for 100",
    ("ncvmp", "weights not normalised"): "no normaliser in d1",
    ("em", "responsibilities not normalised"): "no normaliser in r",
    ("svi_lda", "E[log beta] without its normaliser"): "no normaliser in exp_elog_beta",
})


def cases(recipe: str | None = None) -> list[tuple[str, int]]:
    """``(module, index)`` of every mutation, or of those whose rows include ``recipe``.

    >>> cases("rmsprop")[:2]
    [('rmsprop', 0), ('rmsprop', 1)]
    """
    return [(module, i) for module, (_, _, rows, mutations) in MUTATIONS.items()
            if recipe is None or recipe in rows for i in range(len(mutations))]


def mutate(source: str, selector: str, pattern: str, replacement: str) -> tuple[str, int]:
    """Apply ``pattern`` → ``replacement`` to the code lines of ``source`` matching ``selector``
    (lines inside a triple-quoted string, the docstring's equations, are left alone).

    Returns the new source and the number of substitutions made.
    """
    lines, count, in_string = source.splitlines(keepends=True), 0, False
    for k, line in enumerate(lines):
        quotes = line.count('"""') % 2 == 1
        if in_string or quotes:
            in_string ^= quotes
            continue
        if re.search(selector, line):
            body, nl = (line[:-1], "\n") if line.endswith("\n") else (line, "")
            new, n = re.subn(pattern, replacement, body)
            lines[k], count = new + nl, count + n
    return "".join(lines), count


def mutant(module: str, i: int):
    """The step function of ``module`` with mutation ``i`` applied: ``(function, substitutions, changed)``."""
    function, *_, mutations = MUTATIONS[module]
    _, selector, pattern, replacement = mutations[i]
    source = inspect.getsource(importlib.import_module(f"blrkit.algorithms._generated.{module}"))
    new, count = mutate(source, selector, pattern, replacement)
    namespace = {"__name__": f"mutant_{module}"}
    exec(compile(new, f"<mutant of {module}>", "exec"), namespace)  # noqa: S102 -- our own emitted source
    return namespace[function], count, new != source


@contextlib.contextmanager
def installed(module: str, i: int):
    """Within the block, every driver of ``module`` runs mutant ``i`` of its step; restored on exit.

    The drivers' module attributes are replaced for the block (not thread-safe: run no other check meanwhile).
    """
    function, drivers, _, _ = MUTATIONS[module]
    fn, _, _ = mutant(module, i)
    original = getattr(importlib.import_module(f"blrkit.algorithms._generated.{module}"), function)
    # a driver may hold the step under its own name (``damped_newton_step as laplace_step``)
    names = [(t, n) for t in map(importlib.import_module, drivers) for n, v in vars(t).items() if v is original]
    try:
        for t, n in names:
            setattr(t, n, fn)
        yield fn
    finally:
        for t, n in names:
            setattr(t, n, original)


def rejected(row) -> bool:
    """Whether a row (a :class:`blrkit.verify.Row`) fails by an independent check that ran."""
    return any(c.independent and not c.skipped and not c.passed for c in row.checks)


def killed(module: str, i: int, run_row: Callable) -> tuple[bool, list]:
    """Run the rows of ``module`` with mutant ``i`` installed: ``(every row rejects it, the rows)``.

    ``run_row(name)`` runs one row and returns its :class:`blrkit.verify.Row` (``blrkit.verify.verify_row`` at a
    fixed size and seed): it is passed in, as this module sits below :mod:`blrkit.verify`'s entry point.
    """
    _, _, rows, _ = MUTATIONS[module]
    with installed(module, i):
        results = [run_row(name) for name in rows]
    return all(rejected(r) for r in results), results


@dataclass(frozen=True)
class Score:
    """The mutation score of a recipe: ``killed`` of ``total`` wrong variants rejected; the names of each."""

    killed: int
    total: int
    survivors: tuple[str, ...]
    rejected: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"killed": self.killed, "total": self.total, "survivors": list(self.survivors),
                "rejected": list(self.rejected)}


def score(recipe: str, verdict: Callable[[str, int], bool]) -> Score:
    """How many wrong variants of ``recipe``'s step its row rejects; ``verdict(module, i)`` says whether
    mutant ``i`` of ``module`` is rejected (``killed(module, i, run_row)[0]``).

    >>> score("gradient_descent", lambda module, i: i == 0)
    Score(killed=1, total=2, survivors=('rho dropped',), rejected=('sign of the gradient',))
    """
    out = {True: [], False: []}
    for module, i in cases(recipe):
        out[bool(verdict(module, i))].append(MUTATIONS[module][3][i][0])
    return Score(len(out[True]), len(out[True]) + len(out[False]), tuple(out[False]), tuple(out[True]))
