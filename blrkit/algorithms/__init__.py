"""Public BLR algorithms: NumPy drivers around the emitted update steps in ``_generated``.

Each driver validates its inputs once, loops the emitted step (vectorised over leading batch
axes) and returns an immutable result. Importing this package never imports SymPy. The drivers that
also take Dask arrays (ridge, the Kalman filter and smoother, EM) are exported as wrapped by the
adapter :mod:`blrkit.algorithms._dask`. The loop-over-a-step drivers run on one runner
(:mod:`blrkit.algorithms._runner`), which checks every call of a user's callable. A step that needs nothing
but looping (no user callable, no minibatch schedule) runs with the generic driver
:func:`blrkit.algorithms.iterate`, which calls it by keyword: a recipe that composes existing pieces
needs no driver of its own.

dtype: a driver computes in the floating dtype of its array arguments (float32 arrays give float32 means,
precisions, iterates and log-likelihoods; integers, lists and Python numbers give float64; a float64 array
beside float32 ones gives float64; float16 and bfloat16 are refused naming the argument). Where an
accumulation needs float64's range, it is done in float64 and its result returned in the inputs' dtype: the
Kalman log-likelihood, and the iterations of EM (mixtures and state-space models), VMP, NC-VMP and SVI.
"""

from blrkit.algorithms._dask import (
    em_gaussian_mixture,
    kalman_em,
    kalman_filter,
    kalman_smoother,
    ridge,
    rts_smoother,
)
from blrkit.algorithms.adam import adam, adam_from_blr, blr_from_adam
from blrkit.algorithms.binary import bayesbinn, bernoulli_blr, ste
from blrkit.algorithms.diagonal_newton import diagonal_newton
from blrkit.algorithms.dropout import dropout_sgd
from blrkit.algorithms.gradient_descent import gradient_descent
from blrkit.algorithms.iterate import iterate
from blrkit.algorithms.ivon import ivon
from blrkit.algorithms.laplace import laplace
from blrkit.algorithms.mixture import mixture_newton, mixture_vi
from blrkit.algorithms.ncvmp import ncvmp_logistic
from blrkit.algorithms.newton import newton
from blrkit.algorithms.ogn import online_gauss_newton, vogn
from blrkit.algorithms.results import (
    BinaryResult,
    DiagonalNewtonResult,
    EMResult,
    GaussianPosterior,
    GradientDescentResult,
    IVONResult,
    KalmanEMResult,
    KalmanFilterResult,
    KalmanSmootherResult,
    LDAResult,
    LaplacePosterior,
    MixtureResult,
    NewtonResult,
    VMPResult,
)
from blrkit.algorithms.rmsprop import blr_from_rmsprop, rmsprop, rmsprop_from_blr
from blrkit.algorithms.sgd import stochastic_gradient_descent
from blrkit.algorithms.svi import svi_gaussian_mean, svi_lda
from blrkit.algorithms.variational_newton import variational_newton
from blrkit.algorithms.vmp import vmp_linear_regression, vmp_normal_gamma

__all__ = [
    "BinaryResult",
    "DiagonalNewtonResult",
    "EMResult",
    "GaussianPosterior",
    "GradientDescentResult",
    "IVONResult",
    "KalmanEMResult",
    "KalmanFilterResult",
    "KalmanSmootherResult",
    "LDAResult",
    "LaplacePosterior",
    "MixtureResult",
    "NewtonResult",
    "VMPResult",
    "adam",
    "adam_from_blr",
    "bayesbinn",
    "bernoulli_blr",
    "blr_from_adam",
    "blr_from_rmsprop",
    "diagonal_newton",
    "dropout_sgd",
    "em_gaussian_mixture",
    "gradient_descent",
    "iterate",
    "ivon",
    "kalman_em",
    "kalman_filter",
    "kalman_smoother",
    "laplace",
    "mixture_newton",
    "mixture_vi",
    "ncvmp_logistic",
    "newton",
    "online_gauss_newton",
    "ridge",
    "rmsprop",
    "rmsprop_from_blr",
    "rts_smoother",
    "ste",
    "stochastic_gradient_descent",
    "svi_gaussian_mean",
    "svi_lda",
    "variational_newton",
    "vmp_linear_regression",
    "vmp_normal_gamma",
    "vogn",
]
