"""Hand-written textbook algorithms: the independent oracles blrkit's BLR updates are checked against.

Nothing here is derived or generated; each function is written from its textbook form,
and the tests and notebooks set it side by side with :mod:`blrkit.algorithms`.
"""

from blrkit.classical.em import EMIterates, em_gaussian_mixture, sklearn_em_iterates
from blrkit.classical.lda import OnlineLDAIterates, SklearnLDARun, online_lda, sklearn_online_lda_iterates

__all__ = ["EMIterates", "em_gaussian_mixture", "sklearn_em_iterates",
           "OnlineLDAIterates", "SklearnLDARun", "online_lda", "sklearn_online_lda_iterates"]
