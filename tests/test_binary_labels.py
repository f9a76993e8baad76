"""One binary-label convention, {0, 1} (scikit-learn's), across derive, algorithms, duality, diagnostics and the
classical oracles (issue #23, item 9): every public entry point that takes binary labels accepts {0, 1} and
refuses −1 (the old convention of the derived logistic loss and NC-VMP), 2 and 0.5 with a ValueError that names
its argument and says how to convert ±1 labels. (The compiled derive_local_parameters("logistic"), the same
emitted check as ncvmp_step, is tested on these labels in tests/derive/test_duality.py, where it is derived anyway.)"""

import functools

import numpy as np
import pytest

from blrkit.algorithms import ncvmp_logistic
from blrkit.algorithms._generated.ncvmp import ncvmp_step
from blrkit.classical.irls import irls
from blrkit.classical.ncvmp import knowles_minka
from blrkit.classical.problems import LogisticRegression
from blrkit.classical.variational_newton import gaussian_vi_glm_fixed_point
from blrkit.diagnostics import glm_problem
from blrkit.duality import fit_glm, glm_likelihood, glm_objective, kprior, local_parameters

X = np.array([[1.0, 0.5], [0.3, -1.0], [-1.2, 0.2], [0.8, 0.9]])
Y01 = np.array([1.0, 0.0, 0.0, 1.0])
#: labels outside {0, 1}: the ±1 convention, a count, a probability
BAD = {"±1": 2 * Y01 - 1, "2": np.array([1.0, 0.0, 2.0, 1.0]), "0.5": np.array([1.0, 0.0, 0.5, 1.0])}


@functools.cache
def posterior():
    return fit_glm(X, Y01, likelihood="logistic", prior_precision=1.0)


#: entry point → (the argument holding the labels, a call with labels y)
ENTRY_POINTS = {
    "derive: emitted ncvmp_step": ("y", lambda y: ncvmp_step(np.zeros(2), np.eye(2), 1.0, X, y)),
    "algorithms.ncvmp_logistic": ("y", lambda y: ncvmp_logistic(X, y, alpha=1.0, n_steps=1)),
    "duality.fit_glm logistic": ("y", lambda y: fit_glm(X, y, likelihood="logistic", prior_precision=1.0)),
    "duality.fit_glm probit": ("y", lambda y: fit_glm(X, y, likelihood="probit", prior_precision=1.0)),
    "duality.glm_objective": ("y", lambda y: glm_objective(X, y, likelihood="logistic", prior_precision=1.0)),
    "duality.local_parameters": ("y", lambda y: local_parameters(X, y, posterior(), likelihood="logistic",
                                                                  prior_precision=1.0)),
    "duality.KPrior.without": ("y", lambda y: kprior(X, posterior().mean, likelihood="logistic",
                                                      prior_precision=1.0).without(X, y)),
    "duality.glm_likelihood(labels='binary')": ("y", lambda y: glm_likelihood(
        "log(1 + exp(eta)) - y*eta", "mine", labels="binary").check_y(y, "mine")),
    "diagnostics.glm_problem": ("y", lambda y: glm_problem(X, y, likelihood="logistic", alpha=1.0)),
    "classical.irls": ("t", lambda y: irls(X, y, 1.0, "logistic", 1)),
    "classical.ncvmp.knowles_minka": ("y", lambda y: knowles_minka(X, y, 1.0, np.zeros(2), np.eye(2), 1)),
    "classical.problems.LogisticRegression": ("y", lambda y: LogisticRegression(X, y, 1.0)),
    "classical.gaussian_vi_glm_fixed_point": ("y", lambda y: gaussian_vi_glm_fixed_point(X, y, 1.0)),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_labels_are_0_and_1_everywhere(entry):
    name, call = ENTRY_POINTS[entry]
    call(Y01)  # accepted
    for y in BAD.values():
        given = y.copy()
        with pytest.raises(ValueError, match=rf"^{name} must hold labels 0 or 1\b.*for ±1 labels pass \(y \+ 1\) / 2"):
            call(given)
        assert np.array_equal(given, y), "the caller's labels were changed"
