"""Hand-written textbook algorithms: the independent oracles blrkit's BLR updates are checked against.

Nothing here is derived or generated; each function is written from its textbook form,
and the tests and notebooks set it side by side with :mod:`blrkit.algorithms`.
"""

from blrkit.classical.em import EMIterates, em_gaussian_mixture, sklearn_em_iterates
from blrkit.classical.lda import (OnlineLDAIterates, SklearnLDARun, lda_elbo, online_lda,
                                  sklearn_online_lda_iterates)
from blrkit.classical.vmp import LinearRegressionCAVI, bayespy_linear_regression_iterates, linear_regression_cavi

__all__ = ["EMIterates", "em_gaussian_mixture", "sklearn_em_iterates",
           "OnlineLDAIterates", "SklearnLDARun", "online_lda", "lda_elbo", "sklearn_online_lda_iterates",
           "LinearRegressionCAVI", "linear_regression_cavi", "bayespy_linear_regression_iterates"]
