r"""RECIPES: one table that names every algorithm blrkit derives.

A recipe is a family, a loss (and prior), and approximations: the BLR's choices that
reach a known algorithm (Khan & Rue 2023, Table 1).  The same table drives the emitted
modules (:mod:`blrkit.derive.emit`), the parametrised tests, ``blrkit table`` and the
documentation's derivation catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable

from .derivation import Derivation


@dataclass(frozen=True)
class Recipe:
    """One row: how the BLR reaches ``title``.

    Attributes
    ----------
    name : str
        Identifier (``"newton"``); also the generated module ``algorithms/_generated/<module>.py``.
    title : str
        The algorithm's name, as in Table 1.
    family : str
        Key of the candidate family.
    approximations : tuple of str
        Keys of the approximations, applied in order.
    function : str
        Name of the emitted step function.
    anchor : str
        Paper anchor (:mod:`blrkit.paper`).
    classical : str
        ``"module:function"`` of the hand-written textbook oracle.
    algorithm : str
        ``"module:function"`` of the public driver that runs the emitted step.
    notebook : str
        The lecture notebook that shows it.
    problem : callable or None
        Returns ``(loss, prior)`` for the derivation; ``None`` means an oracle loss, no prior.
    finish : callable or None
        Adds recipe-specific steps to the derivation (e.g. Laplace's fixed point).
    rule : str
        ``"blr"`` or ``"improved"`` (the improved BLR of Lin, Schmidt & Khan 2020).
    """

    name: str
    title: str
    family: str
    approximations: tuple[str, ...]
    function: str
    anchor: str
    classical: str
    algorithm: str
    notebook: str
    module: str = ""
    problem: Callable | None = None
    finish: Callable | None = None
    rule: str = "blr"

    def __post_init__(self):
        if not self.module:
            object.__setattr__(self, "module", self.name)

    def derive(self) -> Derivation:
        """The derivation (computed once per process and cached)."""
        return _derive(self.name)

    def derive_afresh(self) -> Derivation:
        """The derivation computed now, not read from the cache of :meth:`derive` (the print-order test)."""
        return _build(self)


def _build(recipe: Recipe) -> Derivation:
    from .blr import derive
    from .products import as_candidate

    candidate, loss, prior = as_candidate(recipe.family).bind(*(recipe.problem() if recipe.problem else (None, None)))
    d = derive(candidate, loss, prior, recipe.approximations, rule=recipe.rule, function_name=recipe.function,
               title=recipe.title, anchor=recipe.anchor)
    return recipe.finish(d) if recipe.finish else d


def _problem(name):
    def make():
        from . import losses

        return getattr(losses, name)()
    return make


def _normal_gamma_vmp():
    """y_i ~ N(μ, τ⁻¹), μ ~ N(m₀, S₀⁻¹), τ ~ Gamma(α₀, β₀): blocks q(μ) Gaussian, q(τ) Gamma, priors in
    their families, ℓ = Σ_i [τ(y_i − μ)²/2 − ½ log τ] (+ a constant)."""
    import sympy as sp

    from .conjugate import I, N_OBS, Y
    from .meanfield import Block

    mu, tau = sp.symbols("mu tau")
    loss = sp.Sum(tau * (Y[I] - mu) ** 2 / 2 - sp.log(tau) / 2, (I, 1, N_OBS))
    return (Block("mu", "gaussian"), Block("tau", "gamma")), loss


def _linear_regression_vmp():
    """y ~ N(Xw, τ⁻¹I), w ~ N(0, α⁻¹I), τ ~ Gamma(α₀, β₀): blocks q(w) multivariate Gaussian (isotropic prior),
    q(τ) Gamma (prior in its family), ℓ = τ/2 ‖y − Xw‖² − (N/2) log τ (+ a constant)."""
    import sympy as sp

    from .conjugate import N_OBS
    from .losses import D
    from .meanfield import Block

    w, X, y = sp.MatrixSymbol("w", D, 1), sp.MatrixSymbol("X", N_OBS, D), sp.MatrixSymbol("y", N_OBS, 1)
    tau = sp.Symbol("tau")
    loss = tau / 2 * sp.Trace((y - X * w).T * (y - X * w)) - N_OBS * sp.log(tau) / 2
    return (Block("w", "multivariate-gaussian", prior="isotropic"), Block("tau", "gamma")), loss


def _oracle():
    """An oracle loss (the driver supplies its gradient), no separate prior."""
    from .losses import OracleLoss

    return OracleLoss(), None


def _logistic_isotropic():
    """The logistic GLM loss with the prior N(0, α⁻¹I)."""
    from .losses import glm_loss

    return glm_loss("logistic"), "isotropic"


def _laplace_fixed_point(d: Derivation) -> Derivation:
    from .gaussian import laplace_fixed_point

    return laplace_fixed_point(d)


def _conjugate(name):
    def make():
        from .conjugate import CONJUGATE_PROBLEMS

        return CONJUGATE_PROBLEMS[name]()[1], None
    return make


_NB = "notebooks/"
#: name -> :class:`Recipe`: every algorithm blrkit derives, in the order of Table 1
RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("gradient_descent", "Gradient descent", "gaussian-fixed-covariance", ("delta",),
           "gradient_descent_step", "gradient-descent", "blrkit.classical.gradient_descent:gradient_descent",
           "blrkit.algorithms:gradient_descent", _NB + "02_gradient_descent.ipynb"),
    Recipe("newton", "Newton's method", "multivariate-gaussian", ("delta", "rho=1"),
           "newton_step", "newton", "blrkit.classical.newton:newton",
           "blrkit.algorithms:newton", _NB + "03_newton.ipynb"),
    Recipe("damped_newton", "Damped BLR-Newton", "multivariate-gaussian", ("delta",),
           "damped_newton_step", "newton", "blrkit.classical.newton:newton",
           "blrkit.algorithms:newton", _NB + "03_newton.ipynb"),
    Recipe("ridge", "Ridge regression", "multivariate-gaussian", ("rho=1",),
           "ridge_posterior", "ridge", "blrkit.classical.ridge:ridge",
           "blrkit.algorithms:ridge", _NB + "04_ridge_and_conjugate.ipynb", problem=_problem("quadratic_loss")),
    Recipe("kalman_update", "Kalman filter (measurement update)", "multivariate-gaussian", ("rho=1",),
           "kalman_update", "kalman", "blrkit.classical.kalman:kalman_filter",
           "blrkit.algorithms:kalman_filter", _NB + "05_kalman.ipynb", problem=_problem("linear_gaussian_loss")),
    Recipe("laplace", "Laplace's method", "multivariate-gaussian", ("delta",),
           "laplace_step", "laplace", "blrkit.classical.laplace:laplace",
           "blrkit.algorithms:laplace", _NB + "06_laplace.ipynb", finish=_laplace_fixed_point),
    Recipe("diagonal_newton", "Diagonal Newton", "diagonal-gaussian", ("delta",),
           "diagonal_newton_step", "newton", "blrkit.classical.diagonal_newton:diagonal_newton",
           "blrkit.algorithms:diagonal_newton", _NB + "03_newton.ipynb"),
    Recipe("variational_newton", "Variational Newton", "multivariate-gaussian", (),
           "variational_newton_step", "variational-newton", "blrkit.classical.variational_newton:variational_newton",
           "blrkit.algorithms:variational_newton", _NB + "07_flat_minima.ipynb"),
    *(Recipe(name, f"Conjugate Bayes ({title})", family, ("rho=1",), f"{name}_posterior", "conjugate",
             f"blrkit.classical.conjugate:{name}", f"blrkit.algorithms.conjugate:{name}",
             _NB + "04_ridge_and_conjugate.ipynb", problem=_conjugate(name))
      for name, title, family in (
          ("beta_bernoulli", "Beta–Bernoulli", "beta"),
          ("gamma_poisson", "Gamma–Poisson", "gamma"),
          ("dirichlet_categorical", "Dirichlet–categorical", "dirichlet"),
          ("gaussian_mean", "Gaussian mean, known variance", "gaussian"),
          ("normal_gamma", "Normal–Gamma", "normal-gamma"))),
    Recipe("multimodal", "Multimodal optimisation", "gaussian-mixture", ("responsibility", "delta"),
           "mixture_newton_step", "multimodal", "blrkit.classical.mixture:mixture_newton",
           "blrkit.algorithms:mixture_newton", _NB + "10_mixtures.ipynb"),
    Recipe("ncvi", "Non-conjugate VI (mixture of Gaussians)", "gaussian-mixture", (),
           "mixture_vi_step", "ncvi", "blrkit.classical.mixture:mixture_vi",
           "blrkit.algorithms:mixture_vi", _NB + "10_mixtures.ipynb", rule="improved"),
    Recipe("vmp", "VMP (Gaussian, unknown mean and precision)", "mean-field", ("rho=1",),
           "vmp_sweep", "vmp", "blrkit.classical.vmp:normal_gamma_cavi", "blrkit.algorithms:vmp_normal_gamma",
           _NB + "11_inference.ipynb", problem=_normal_gamma_vmp),
    Recipe("vmp_regression", "VMP (Bayesian linear regression, unknown noise precision)", "mean-field", ("rho=1",),
           "vmp_regression_sweep", "vmp", "blrkit.classical.vmp:linear_regression_cavi",
           "blrkit.algorithms:vmp_linear_regression", _NB + "11_inference.ipynb", problem=_linear_regression_vmp),
    Recipe("ncvmp", "Non-conjugate VMP", "multivariate-gaussian", ("gauss-hermite", "rho=1"),
           "ncvmp_step", "vmp", "blrkit.classical.ncvmp:knowles_minka", "blrkit.algorithms:ncvmp_logistic",
           _NB + "11_inference.ipynb", problem=_logistic_isotropic),
    Recipe("em", "Expectation–maximisation (Gaussian mixture)", "categorical+gaussian", ("delta", "rho=1"),
           "em_step", "em", "blrkit.classical.em:em_gaussian_mixture", "blrkit.algorithms:em_gaussian_mixture",
           _NB + "11_inference.ipynb"),
    Recipe("svi", "Stochastic VI (Gaussian mean)", "gaussian", ("stochastic",), "svi_step", "svi",
           "blrkit.classical.svi:svi_gaussian_mean", "blrkit.algorithms:svi_gaussian_mean",
           _NB + "11_inference.ipynb", problem=_conjugate("gaussian_mean")),
    Recipe("svi_lda", "Stochastic VI (latent Dirichlet allocation)", "dirichlet+categorical", ("stochastic", "rho=1"),
           "svi_lda_step", "svi", "blrkit.classical.lda:online_lda", "blrkit.algorithms:svi_lda",
           _NB + "11_inference.ipynb"),
    Recipe("bernoulli_exact", "Bernoulli BLR (exact natural gradient, by enumeration)", "bernoulli", (),
           "bernoulli_blr_step", "bayesbinn", "blrkit.classical.binary:bernoulli_blr", "blrkit.algorithms:bernoulli_blr",
           _NB + "09_binary_networks.ipynb", problem=_oracle),
    Recipe("bayesbinn", "BayesBiNN", "bernoulli", ("relaxation", "stochastic"), "bayesbinn_step", "bayesbinn",
           "blrkit.classical.binary:bayesbinn", "blrkit.algorithms:bayesbinn", _NB + "09_binary_networks.ipynb",
           problem=_oracle),
    Recipe("ste", "STE", "bernoulli",
           ("relaxation", "stochastic", "no-noise", "constant-scale", "zero-temperature", "small-step"),
           "ste_step", "ste", "blrkit.classical.binary:ste", "blrkit.algorithms:ste", _NB + "09_binary_networks.ipynb",
           problem=_oracle),
    Recipe("dropout", "Dropout", "gaussian-mixture", ("fixed-covariance", "responsibility", "delta", "stochastic"),
           "dropout_step", "dropout", "blrkit.classical.dropout:dropconnect", "blrkit.algorithms:dropout_sgd",
           _NB + "10_mixtures.ipynb"),
    Recipe("dropout_noise", "Dropout with Gaussian weight noise (finite slab variance)", "gaussian-mixture",
           ("fixed-covariance", "responsibility", "stochastic"), "dropout_noise_step", "dropout",
           "blrkit.classical.dropout:noisy_dropconnect", "blrkit.algorithms:dropout_sgd", _NB + "10_mixtures.ipynb"),
    Recipe("sgd", "Stochastic gradient descent", "gaussian-fixed-covariance", ("delta", "stochastic"),
           "sgd_step", "sgd", "blrkit.classical.sgd:sgd",
           "blrkit.algorithms:stochastic_gradient_descent", _NB + "02_gradient_descent.ipynb"),
    Recipe("ogn", "Online Gauss-Newton (OGN)", "diagonal-gaussian", ("delta", "gauss-newton", "stochastic"),
           "ogn_step", "ogn", "blrkit.classical.ogn:online_gauss_newton",
           "blrkit.algorithms:online_gauss_newton", _NB + "03_newton.ipynb"),
    Recipe("vogn", "Variational OGN (VOGN)", "diagonal-gaussian", ("gauss-newton", "stochastic"),
           "vogn_step", "ogn", "blrkit.classical.ogn:vogn",
           "blrkit.algorithms:vogn", _NB + "03_newton.ipynb"),
    Recipe("variational_newton_improved", "Improved BLR (variational Newton)", "multivariate-gaussian", (),
           "improved_variational_newton_step", "improved-blr",
           "blrkit.classical.variational_newton:variational_newton", "blrkit.algorithms:variational_newton",
           _NB + "07_flat_minima.ipynb", rule="improved"),
    Recipe("vogn_improved", "Improved BLR (VOGN)", "diagonal-gaussian", ("gauss-newton", "stochastic"),
           "improved_vogn_step", "improved-blr", "blrkit.classical.ogn:vogn", "blrkit.algorithms:vogn",
           _NB + "03_newton.ipynb", rule="improved"),
    Recipe("rmsprop", "RMSprop", "diagonal-gaussian",
           ("delta", "stochastic", "squared-gradient", "per-example-scale", "square-root", "decoupled-step"),
           "rmsprop_step", "rmsprop", "blrkit.classical.rmsprop:rmsprop",
           "blrkit.algorithms:rmsprop", _NB + "08_deep_learning.ipynb"),
    Recipe("adam", "Adam", "diagonal-gaussian",
           ("delta", "stochastic", "squared-gradient", "per-example-scale", "square-root", "decoupled-step",
            "gradient-average", "bias-correction"),
           "adam_step", "rmsprop", "blrkit.classical.adam:adam",
           "blrkit.algorithms:adam", _NB + "08_deep_learning.ipynb"),
    Recipe("ivon", "IVON", "diagonal-gaussian",
           ("reparam-hessian", "stochastic", "hessian-scale", "effective-sample-size", "decoupled-step",
            "gradient-average", "gradient-bias-correction"),
           "ivon_step", "ivon", "blrkit.classical.ivon:ivon", "blrkit.algorithms:ivon",
           _NB + "08_deep_learning.ipynb", problem=lambda: (None, "isotropic"), rule="improved"),
)}


@lru_cache(maxsize=None)
def _derive(name: str) -> Derivation:
    return _build(RECIPES[name])


__all__ = ["Recipe", "RECIPES", "replace"]
