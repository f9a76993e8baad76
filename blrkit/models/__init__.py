"""Small neural networks in NumPy for blrkit's optimisers: a multilayer perceptron with its parameters
as one flat vector, its binary-weight variant (BayesBiNN, STE), the gradient callables the optimisers
take, two data sets, and the metrics of a predictive distribution (accuracy, negative log-likelihood,
calibration, the Bayesian model average).

scikit-learn is needed only by :mod:`blrkit.models.datasets`, and imported there lazily.
"""

from blrkit.models.binary_mlp import BinaryMLP
from blrkit.models.datasets import Dataset, digits, moons
from blrkit.models.metrics import (
    ReliabilityBins,
    accuracy,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
)
from blrkit.models.mlp import MLP
from blrkit.models.objective import Objective
from blrkit.models.predictive import (
    bayesian_model_average,
    binary_model_average,
    sample_binary_weights,
    sample_diagonal_gaussian,
)

__all__ = [
    "MLP",
    "BinaryMLP",
    "Dataset",
    "Objective",
    "ReliabilityBins",
    "accuracy",
    "bayesian_model_average",
    "binary_model_average",
    "digits",
    "expected_calibration_error",
    "moons",
    "negative_log_likelihood",
    "reliability_bins",
    "sample_binary_weights",
    "sample_diagonal_gaussian",
]
