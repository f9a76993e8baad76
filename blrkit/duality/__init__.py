r"""The dual view of BLR solutions: local natural parameters, leave-one-out, memory, K-priors.

At a fixed point of the Bayesian learning rule with a Gaussian candidate, the posterior's natural
parameter is the prior's plus one *site* per example, :math:`\lambda_* = \lambda_0 + \sum_i\tilde\lambda_i`
(Khan & Rue 2023, Sec. 5). For a GLM every site is two scalars on the feature vector, a dual weight
α_i and a precision β_i. The sites measure each example's influence: subtracting one gives the
leave-one-out posterior (:func:`leave_one_out`), their sizes sort the data into easy, outlying and
uncertain examples (:func:`memorable_examples`), and a few of them, kept as a memory, rebuild the
past gradient for a new task (:func:`kprior`; Khan & Swaroop 2021). The K-output softmax model
has K-dimensional sites (:func:`softmax_local_parameters`). A network linearised at a BLR solution is a
Gaussian process with kernel :math:`J(x)\Sigma J(x')^\top` (:func:`network_kernel`, :func:`gp_predictive`;
Khan et al. 2019).

>>> import numpy as np
>>> from blrkit.duality import fit_glm, local_parameters
>>> rng = np.random.default_rng(0); X = rng.normal(size=(40, 2)); y = (X @ [1.0, -1.0] > 0).astype(float)
>>> post = fit_glm(X, y, likelihood="logistic", prior_precision=1.0)
>>> sites = local_parameters(X, y, post, likelihood="logistic", prior_precision=1.0)
>>> lam1, lam2 = sites.site_sums()
>>> bool(np.allclose(np.eye(2) - 2 * lam2, post.precision))   # S = P₀ + Σ β_i x_i x_iᵀ
True
"""

from blrkit.duality.fit import fit_glm, glm_objective
from blrkit.duality.gp import GPPredictive, ggn_precision, gp_predictive, network_jacobian, network_kernel
from blrkit.duality.kpriors import KPrior, QuadraticPenalty, kprior, quadratic_penalty
from blrkit.duality.likelihoods import LIKELIHOODS, Likelihood, gauss_hermite_expectation, glm_likelihood
from blrkit.duality.loo import LeaveOneOut, leave_one_out
from blrkit.duality.memory import MemorableExamples, memorable_examples, select_memory
from blrkit.duality.sites import LocalParameters, local_parameters, predictive_variance
from blrkit.duality.softmax import SoftmaxSites, fit_softmax, softmax_local_parameters

__all__ = [
    "GPPredictive", "KPrior", "LIKELIHOODS", "LeaveOneOut", "Likelihood", "LocalParameters", "MemorableExamples",
    "QuadraticPenalty", "SoftmaxSites", "fit_glm", "fit_softmax", "gauss_hermite_expectation", "glm_likelihood",
    "ggn_precision", "glm_objective", "gp_predictive", "network_jacobian", "network_kernel",
    "kprior", "leave_one_out", "local_parameters", "memorable_examples", "predictive_variance",
    "quadratic_penalty", "select_memory", "softmax_local_parameters",
]
