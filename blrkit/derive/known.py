r"""The registry of the algorithms blrkit derives (one record per row), and which known algorithm a choice
of family, loss and approximations reproduces (Khan & Rue 2023, Table 1).

:data:`RECORDS` is the one table: each :class:`Record` holds everything about a row (its request:
family, loss and prior, approximations, rule; its title and paper anchor; its Table 1 row; its emitted
function, public driver, textbook oracle, row check and notebook). Everything that lists rows reads it:
:data:`blrkit.derive.RECIPES` (the same records, able to derive themselves), the emitted modules, the
verification table and its Table 1 groups (:mod:`blrkit.verify`), the catalogue and the registry tests.

:func:`known_algorithm` names a derivation however it was asked for (a recipe, the command line, or a
user's own loss): first by the records (a request equal to a record's is that record's algorithm), then
by more general rules that name families of requests the records do not list (a GLM loss with the delta
method and ρ = 1 is Newton's method, "IRLS for a GLM"; any fixed covariance with the delta method is
gradient descent). The records live here, below the engine that calls :func:`known_algorithm`
(:mod:`blrkit.derive.blr`), so that reading them closes no import circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable


@dataclass(frozen=True)
class Record:
    """One row: how the BLR reaches ``title``, and how the row is checked.

    Attributes
    ----------
    name : str
        Identifier (``"newton"``).
    title : str
        The algorithm's name, as in Table 1.
    family : str
        Key of the candidate family.
    approximations : tuple of str
        Keys of the approximations, applied in order.
    function : str
        Name of the emitted step function.
    module : str
        The generated module ``algorithms/_generated/<module>.py`` that holds it (default: ``name``). Two
        recipes whose emitted steps are the same code (Laplace's method is the damped BLR-Newton step; its
        fixed point is what differs) share one module and one function: the later names the earlier's
        (``python -m blrkit.derive.emit`` refuses two recipes of one module whose code differs).
    anchor : str
        Paper anchor (:mod:`blrkit.paper`).
    classical : str
        ``"module:function"`` of the hand-written textbook oracle.
    algorithm : str
        ``"module:function"`` of the public driver that runs the emitted step
        (``"blrkit.algorithms.iterate:iterate"``: the generic driver, for a step that needs nothing else).
    notebook : str
        The lecture notebook that shows it.
    problem : callable or None
        Returns ``(loss, prior)`` for the derivation; ``None`` means an oracle loss, no prior.
    finish : callable or None
        Adds recipe-specific steps to the derivation (e.g. Laplace's fixed point).
    rule : str
        ``"blr"`` or ``"improved"`` (the improved BLR of Lin, Schmidt & Khan 2020).
    table_1 : str
        The algorithm column of the row of Khan & Rue (2023), Table 1, this record implements (part of);
        empty for a row blrkit adds.
    check : str
        ``"module:function"`` of the row check ``check(problem, recipe) -> list of Check``
        (:mod:`blrkit.verify`); ``"blrkit.verify.iterates:iterates"`` is the generic one, which runs the
        public driver and the oracle on ``check_problem`` and compares every iterate within ``tolerance``.
    check_problem : callable or None
        For the generic check: ``check_problem(problem)`` (a :class:`blrkit.verify.Problem`) returns
        ``{"state": {...}, "arguments": {...}, "n_steps": int}``, the keyword arguments of the emitted step.
    tolerance : float or None
        For the generic check: the largest relative error of the driver's iterates against the oracle's.
    textbook_form : tuple or None
        The update as its literature writes it, typed by hand in :func:`blrkit.reverse.parse_update`'s syntax,
        for the test that :func:`blrkit.reverse.identify` names it: ``(update, states, gradients,
        hyperparameters, {derivation parameter: expected user expression})`` (the rows before this field keep
        theirs in tests/reverse/test_recipes.py).
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
    table_1: str = ""
    check: str = ""
    check_problem: Callable | None = None
    tolerance: float | None = None
    textbook_form: tuple | None = None

    def __post_init__(self):
        if not self.module:
            object.__setattr__(self, "module", self.name)

    @property
    def step(self):
        """The numeric ρ the approximations fix (1 for ``"rho=1"``), or None."""
        return 1 if "rho=1" in self.approximations else None


def _quadratic():
    """The squared-error loss of linear regression and its Gaussian prior."""
    from .losses import quadratic_loss

    return quadratic_loss()


def _linear_gaussian():
    """The linear-Gaussian measurement loss of the Kalman filter and its Gaussian prior (the prediction)."""
    from .losses import linear_gaussian_loss

    return linear_gaussian_loss()


def _normal_gamma_vmp():
    """y_i ~ N(μ, τ⁻¹), μ ~ N(m₀, S₀⁻¹), τ ~ Gamma(α₀, β₀): blocks q(μ) Gaussian, q(τ) Gamma, priors in
    their families, ℓ = Σ_i [τ(y_i − μ)²/2 − ½ log τ] (+ a constant)."""
    import sympy as sp

    from .conjugate import I, N_OBS, Y
    from .meanfield_blocks import Block

    mu, tau = sp.symbols("mu tau")
    loss = sp.Sum(tau * (Y[I] - mu) ** 2 / 2 - sp.log(tau) / 2, (I, 1, N_OBS))
    return (Block("mu", "gaussian"), Block("tau", "gamma")), loss


def _linear_regression_vmp():
    """y ~ N(Xw, τ⁻¹I), w ~ N(0, α⁻¹I), τ ~ Gamma(α₀, β₀): blocks q(w) multivariate Gaussian (isotropic prior),
    q(τ) Gamma (prior in its family), ℓ = τ/2 ‖y − Xw‖² − (N/2) log τ (+ a constant)."""
    import sympy as sp

    from .conjugate import N_OBS
    from .losses import D
    from .meanfield_blocks import Block

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


def _poisson_isotropic():
    """The Poisson GLM loss (log link) with the prior N(0, α⁻¹I)."""
    from .losses import glm_loss

    return glm_loss("poisson"), "isotropic"


def _poisson_regression_problem(p):
    """Counts yᵢ ~ Poisson(exp(xᵢᵀθ*)), N = ``p.n`` examples of D = ``p.dim`` features (scaled by 1/√D so the
    rates stay near 1), α = 2; from m = 0, S = αI + XᵀX (the Hessian at 0), 12 steps of ρ = 0.3, 4 samples."""
    import numpy as np

    rng = p.rng()
    X = rng.standard_normal((p.n, p.dim)) / np.sqrt(p.dim)
    y = rng.poisson(np.exp(X @ (0.5 * rng.standard_normal(p.dim)))).astype(float)
    alpha = 2.0
    return {"state": {"m": np.zeros(p.dim), "S": alpha * np.eye(p.dim) + X.T @ X},
            "arguments": {"rho": 0.3, "alpha": alpha, "X": X, "y": y, "n_samples": 4}, "n_steps": 12}


def _laplace_fixed_point(d: Derivation) -> Derivation:
    from .gaussian import laplace_fixed_point

    return laplace_fixed_point(d)


def _conjugate(name):
    def make():
        from .conjugate import CONJUGATE_PROBLEMS

        return CONJUGATE_PROBLEMS[name]()[1], None
    return make


_NB = "notebooks/"
#: name -> :class:`Record`: every algorithm blrkit derives, in the order of Table 1 (the one table; blrkit's
#: extra rows where they read best)
RECORDS: dict[str, Record] = {r.name: r for r in (
    Record("gradient_descent", "Gradient descent", "gaussian-fixed-covariance", ("delta",),
           "gradient_descent_step", "gradient-descent", "blrkit.classical.gradient_descent:gradient_descent",
           "blrkit.algorithms:gradient_descent", _NB + "02_gradient_descent.ipynb",
           table_1="Gradient descent", check="blrkit.verify.gaussian:gradient_descent"),
    Record("newton", "Newton's method", "multivariate-gaussian", ("delta", "rho=1"),
           "newton_step", "newton", "blrkit.classical.newton:newton",
           "blrkit.algorithms:newton", _NB + "03_newton.ipynb",
           table_1="Newton's method", check="blrkit.verify.gaussian:newton"),
    Record("damped_newton", "Damped BLR-Newton", "multivariate-gaussian", ("delta",),
           "damped_newton_step", "newton", "blrkit.classical.newton:newton",
           "blrkit.algorithms:newton", _NB + "03_newton.ipynb",
           check="blrkit.verify.gaussian:damped_newton"),
    Record("ridge", "Ridge regression", "multivariate-gaussian", ("rho=1",),
           "ridge_posterior", "ridge", "blrkit.classical.ridge:ridge",
           "blrkit.algorithms:ridge", _NB + "04_ridge_and_conjugate.ipynb", problem=_quadratic,
           check="blrkit.verify.regression:ridge"),
    Record("kalman_update", "Kalman filter (measurement update)", "multivariate-gaussian", ("rho=1",),
           "kalman_update", "kalman", "blrkit.classical.kalman:kalman_filter",
           "blrkit.algorithms:kalman_filter", _NB + "05_kalman.ipynb", problem=_linear_gaussian,
           check="blrkit.verify.kalman:kalman_update"),
    Record("laplace", "Laplace's method", "multivariate-gaussian", ("delta",),
           "damped_newton_step", "laplace", "blrkit.classical.laplace:laplace",
           "blrkit.algorithms:laplace", _NB + "06_laplace.ipynb", module="damped_newton", finish=_laplace_fixed_point,
           table_1="Laplace's method", check="blrkit.verify.gaussian:laplace"),
    Record("diagonal_newton", "Diagonal Newton", "diagonal-gaussian", ("delta",),
           "diagonal_newton_step", "newton", "blrkit.classical.diagonal_newton:diagonal_newton",
           "blrkit.algorithms:diagonal_newton", _NB + "03_newton.ipynb",
           check="blrkit.verify.gaussian:diagonal_newton"),
    Record("variational_newton", "Variational Newton", "multivariate-gaussian", (),
           "variational_newton_step", "variational-newton", "blrkit.classical.variational_newton:variational_newton",
           "blrkit.algorithms:variational_newton", _NB + "07_flat_minima.ipynb",
           check="blrkit.verify.gaussian:variational_newton"),
    *(Record(name, f"Conjugate Bayes ({title})", family, ("rho=1",), f"{name}_posterior", "conjugate",
             f"blrkit.classical.conjugate:{name}", f"blrkit.algorithms.conjugate:{name}",
             _NB + "04_ridge_and_conjugate.ipynb", problem=_conjugate(name), table_1="Conjugate Bayes",
             check=f"blrkit.verify.conjugate:{name}")
      for name, title, family in (
          ("beta_bernoulli", "Beta–Bernoulli", "beta"),
          ("gamma_poisson", "Gamma–Poisson", "gamma"),
          ("dirichlet_categorical", "Dirichlet–categorical", "dirichlet"),
          ("gaussian_mean", "Gaussian mean, known variance", "gaussian"),
          ("normal_gamma", "Normal–Gamma", "normal-gamma"))),
    Record("multimodal", "Multimodal optimisation", "gaussian-mixture", ("responsibility", "delta"),
           "mixture_newton_step", "multimodal", "blrkit.classical.mixture:mixture_newton",
           "blrkit.algorithms:mixture_newton", _NB + "10_mixtures.ipynb",
           table_1="Multimodal optimisation", check="blrkit.verify.mixture:multimodal"),
    Record("ncvi", "Non-conjugate VI (mixture of Gaussians)", "gaussian-mixture", (),
           "mixture_vi_step", "ncvi", "blrkit.classical.mixture:mixture_vi",
           "blrkit.algorithms:mixture_vi", _NB + "10_mixtures.ipynb", rule="improved",
           table_1="Non-conjugate VI", check="blrkit.verify.mixture:ncvi"),
    Record("vmp", "VMP (Gaussian, unknown mean and precision)", "mean-field", ("rho=1",),
           "vmp_sweep", "vmp", "blrkit.classical.vmp:normal_gamma_cavi", "blrkit.algorithms:vmp_normal_gamma",
           _NB + "11_inference.ipynb", problem=_normal_gamma_vmp,
           table_1="VMP", check="blrkit.verify.inference:vmp"),
    Record("vmp_regression", "VMP (Bayesian linear regression, unknown noise precision)", "mean-field", ("rho=1",),
           "vmp_regression_sweep", "vmp", "blrkit.classical.vmp:linear_regression_cavi",
           "blrkit.algorithms:vmp_linear_regression", _NB + "11_inference.ipynb", problem=_linear_regression_vmp,
           table_1="VMP", check="blrkit.verify.inference:vmp_regression"),
    Record("ncvmp", "Non-conjugate VMP", "multivariate-gaussian", ("gauss-hermite", "rho=1"),
           "ncvmp_step", "vmp", "blrkit.classical.ncvmp:knowles_minka", "blrkit.algorithms:ncvmp_logistic",
           _NB + "11_inference.ipynb", problem=_logistic_isotropic,
           table_1="Non-conjugate VMP", check="blrkit.verify.inference:ncvmp"),
    Record("em", "Expectation–maximisation (Gaussian mixture)", "categorical+gaussian", ("delta", "rho=1"),
           "em_step", "em", "blrkit.classical.em:em_gaussian_mixture", "blrkit.algorithms:em_gaussian_mixture",
           _NB + "11_inference.ipynb",
           table_1="Expectation-Maximisation", check="blrkit.verify.inference:em"),
    Record("svi", "Stochastic VI (Gaussian mean)", "gaussian", ("stochastic",), "svi_step", "svi",
           "blrkit.classical.svi:svi_gaussian_mean", "blrkit.algorithms:svi_gaussian_mean",
           _NB + "11_inference.ipynb", problem=_conjugate("gaussian_mean"),
           table_1="Stochastic VI (SVI)", check="blrkit.verify.inference:svi"),
    Record("svi_lda", "Stochastic VI (latent Dirichlet allocation)", "dirichlet+categorical", ("stochastic", "rho=1"),
           "svi_lda_step", "svi", "blrkit.classical.lda:online_lda", "blrkit.algorithms:svi_lda",
           _NB + "11_inference.ipynb",
           table_1="Stochastic VI (SVI)", check="blrkit.verify.inference:svi_lda"),
    Record("bernoulli_exact", "Bernoulli BLR (exact natural gradient, by enumeration)", "bernoulli", (),
           "bernoulli_blr_step", "bayesbinn", "blrkit.classical.binary:bernoulli_blr", "blrkit.algorithms:bernoulli_blr",
           _NB + "09_binary_networks.ipynb", problem=_oracle,
           check="blrkit.verify.binary:bernoulli_exact"),
    Record("bayesbinn", "BayesBiNN", "bernoulli", ("relaxation", "stochastic"), "bayesbinn_step", "bayesbinn",
           "blrkit.classical.binary:bayesbinn", "blrkit.algorithms:bayesbinn", _NB + "09_binary_networks.ipynb",
           problem=_oracle,
           table_1="BayesBiNN", check="blrkit.verify.binary:bayesbinn"),
    Record("ste", "STE", "bernoulli",
           ("relaxation", "stochastic", "no-noise", "constant-scale", "zero-temperature", "small-step"),
           "ste_step", "ste", "blrkit.classical.binary:ste", "blrkit.algorithms:ste", _NB + "09_binary_networks.ipynb",
           problem=_oracle,
           table_1="STE", check="blrkit.verify.binary:ste"),
    Record("dropout", "Dropout", "gaussian-mixture", ("fixed-covariance", "responsibility", "delta", "stochastic"),
           "dropout_step", "dropout", "blrkit.classical.dropout:dropconnect", "blrkit.algorithms:dropout_sgd",
           _NB + "10_mixtures.ipynb",
           table_1="Dropout", check="blrkit.verify.mixture:dropout"),
    Record("dropout_noise", "Dropout with Gaussian weight noise (finite slab variance)", "gaussian-mixture",
           ("fixed-covariance", "responsibility", "stochastic"), "dropout_noise_step", "dropout",
           "blrkit.classical.dropout:noisy_dropconnect", "blrkit.algorithms:dropout_sgd", _NB + "10_mixtures.ipynb",
           check="blrkit.verify.mixture:dropout_noise"),
    Record("sgd", "Stochastic gradient descent", "gaussian-fixed-covariance", ("delta", "stochastic"),
           "sgd_step", "sgd", "blrkit.classical.sgd:sgd",
           "blrkit.algorithms:stochastic_gradient_descent", _NB + "02_gradient_descent.ipynb",
           table_1="SGD", check="blrkit.verify.gaussian:sgd"),
    Record("ogn", "Online Gauss-Newton (OGN)", "diagonal-gaussian", ("delta", "gauss-newton", "stochastic"),
           "ogn_step", "ogn", "blrkit.classical.ogn:online_gauss_newton",
           "blrkit.algorithms:online_gauss_newton", _NB + "03_newton.ipynb",
           table_1="Online Gauss-Newton (OGN)", check="blrkit.verify.gaussian:ogn"),
    Record("vogn", "Variational OGN (VOGN)", "diagonal-gaussian", ("gauss-newton", "stochastic"),
           "vogn_step", "ogn", "blrkit.classical.ogn:vogn",
           "blrkit.algorithms:vogn", _NB + "03_newton.ipynb",
           table_1="Variational OGN", check="blrkit.verify.gaussian:vogn"),
    Record("variational_newton_improved", "Improved BLR (variational Newton)", "multivariate-gaussian", (),
           "improved_variational_newton_step", "improved-blr",
           "blrkit.classical.variational_newton:variational_newton", "blrkit.algorithms:variational_newton",
           _NB + "07_flat_minima.ipynb", rule="improved",
           check="blrkit.verify.gaussian:variational_newton_improved"),
    Record("vogn_improved", "Improved BLR (VOGN)", "diagonal-gaussian", ("gauss-newton", "stochastic"),
           "improved_vogn_step", "improved-blr", "blrkit.classical.ogn:vogn", "blrkit.algorithms:vogn",
           _NB + "03_newton.ipynb", rule="improved",
           check="blrkit.verify.gaussian:vogn_improved"),
    Record("rmsprop", "RMSprop", "diagonal-gaussian",
           ("delta", "stochastic", "squared-gradient", "per-example-scale", "square-root", "decoupled-step"),
           "rmsprop_step", "rmsprop", "blrkit.classical.rmsprop:rmsprop",
           "blrkit.algorithms:rmsprop", _NB + "08_deep_learning.ipynb",
           table_1="RMSprop/Adam", check="blrkit.verify.adaptive:rmsprop"),
    Record("adam", "Adam", "diagonal-gaussian",
           ("delta", "stochastic", "squared-gradient", "per-example-scale", "square-root", "decoupled-step",
            "gradient-average", "bias-correction"),
           "adam_step", "rmsprop", "blrkit.classical.adam:adam",
           "blrkit.algorithms:adam", _NB + "08_deep_learning.ipynb",
           table_1="RMSprop/Adam", check="blrkit.verify.adaptive:adam"),
    Record("ivon", "IVON", "diagonal-gaussian",
           ("reparam-hessian", "stochastic", "hessian-scale", "effective-sample-size", "decoupled-step",
            "gradient-average", "gradient-bias-correction"),
           "ivon_step", "ivon", "blrkit.classical.ivon:ivon", "blrkit.algorithms:ivon",
           _NB + "08_deep_learning.ipynb", problem=lambda: (None, "isotropic"), rule="improved",
           check="blrkit.verify.adaptive:ivon"),
    # composed of existing pieces: the generic driver and check; tolerance: 12 steps against another
    # formula of each step (triangular solves, per-example sums), the closed-form error accumulated
    Record("ngvi_poisson", "Natural-gradient VI (Poisson regression)", "multivariate-gaussian", (),
           "ngvi_poisson_step", "variational-newton", "blrkit.classical.ngvi_poisson:ngvi_poisson",
           "blrkit.algorithms.iterate:iterate", _NB + "07_flat_minima.ipynb", problem=_poisson_isotropic,
           check="blrkit.verify.iterates:iterates", check_problem=_poisson_regression_problem, tolerance=1e-8,
           textbook_form=("S_new = (1 - r)*S + r*(EH + alpha); m_new = m - r*inv(S_new)*(Eg + alpha*m)", "m S",
                          "Eg EH", "r alpha", {"rho": "r", "alpha": "alpha"})),
)}


def loss_kind(family: str, loss, prior) -> str:
    """What kind of loss a request has, for :func:`known_algorithm`: ``"oracle"``, ``"glm"``, ``"component"``,
    ``"quadratic"``, ``"linear-gaussian"``, ``"default-likelihood"`` or ``"other"``.

    ``loss`` None is the family's default (an oracle for a Gaussian, the conjugate likelihood otherwise);
    ``prior`` is None, ``"isotropic"`` or a prior object. Kinds are told by type and by equality with the
    constructors' losses, never by a display name.

    >>> from blrkit.derive.losses import quadratic_loss
    >>> loss_kind("multivariate-gaussian", *quadratic_loss()), loss_kind("diagonal-gaussian", None, None)
    ('quadratic', 'oracle')
    """
    from .conjugate import Likelihood
    from .losses import ComponentLoss, ExpressionLoss, GLMLoss, OracleLoss

    default = _default_likelihood(family)
    if loss is None:
        loss = default if default is not None else OracleLoss()
    if prior == "none":
        prior = None
    if isinstance(loss, Likelihood):
        return "default-likelihood" if loss == default and prior is None else "other"
    if isinstance(loss, ExpressionLoss):  # the kind its constructor declares (quadratic_loss, linear_gaussian_loss)
        return loss.kind if loss.kind in ("quadratic", "linear-gaussian") else "other"
    kind = {OracleLoss: "oracle", GLMLoss: "glm", ComponentLoss: "component"}.get(type(loss), "other")
    return "other" if kind == "oracle" and prior is not None else kind


@lru_cache(maxsize=None)
def _default_likelihood(family: str):
    """The conjugate likelihood a family derives with when given no loss, or None (built once per family)."""
    from .conjugate import CONJUGATE_PROBLEMS

    return next((lik for f, lik in (make() for make in CONJUGATE_PROBLEMS.values()) if f.key == family), None)


#: the kinds of loss that are one loss each (a request of that kind is a record's request whatever else it
#: holds); a GLM or a loss in θ is one of many, and matches a record only when the loss itself is given
_ONE_LOSS = ("oracle", "quadratic", "linear-gaussian", "default-likelihood")


def _same_loss(record: Record, loss, prior) -> bool:
    """The request's loss and prior are the record's (``isotropic`` given as the string or the object)."""
    from .losses import isotropic_prior

    mine, my_prior = record.problem() if record.problem else (None, None)
    iso = isotropic_prior()
    norm = lambda p: iso if p == "isotropic" else (None if p == "none" else p)  # noqa: E731
    return mine == loss and norm(my_prior) == norm(prior)


@lru_cache(maxsize=None)
def _record_kind(name: str) -> str:
    r = RECORDS[name]
    return loss_kind(r.family, *(r.problem() if r.problem else (None, None)))


def known_record(family: str, kind: str, keys: tuple, step=None, *, loss=None, prior=None) -> Record | None:
    """The record whose request this is, or None: the same family, approximations (in order), kind of loss
    and ρ, the plain rule and no step added after the derivation (Laplace's fixed point is damped Newton's
    request run to its end); for a kind of loss that holds many losses (a GLM, a loss in θ) also the same
    ``loss`` and ``prior``, which must then be given.

    >>> known_record("gaussian", "default-likelihood", ("stochastic",)).name
    'svi'
    >>> known_record("multivariate-gaussian", "glm", ()) is None  # which GLM? not said
    True
    """
    for r in RECORDS.values():
        if (r.rule != "blr" or r.finish is not None or r.family != family or r.approximations != tuple(keys)
                or r.step != step or r.family in COMPOSITE or r.family == "mean-field"):
            continue
        if _record_kind(r.name) == kind and (kind in _ONE_LOSS or (loss is not None and _same_loss(r, loss, prior))):
            return r
    return None


def _named(name: str) -> tuple[str, str]:
    return RECORDS[name].title, RECORDS[name].anchor


def known_algorithm(family: str, loss_kind: str, keys: tuple, step=None, *, loss=None,
                    prior=None) -> tuple[str | None, str | None]:
    """``(title, paper anchor)`` of the algorithm reproduced, or ``(None, None)``.

    ``loss_kind`` is ``"oracle"``, ``"glm"``, ``"component"``, ``"quadratic"``, ``"linear-gaussian"``,
    ``"default-likelihood"`` or ``"other"`` (:func:`loss_kind`); ``keys`` the approximation keys in order;
    ``step`` the numeric ρ if one was given; ``loss`` and ``prior`` the request's own, when known (they name
    a GLM's record: Poisson regression, not any GLM).

    A request equal to a record's (:func:`known_record`) is named by that record; the rules after it are
    general: they name requests no record lists (a GLM, a loss in θ, another order of approximations).

    >>> known_algorithm("multivariate-gaussian", "glm", ("delta", "rho=1"), 1)
    ("Newton's method (IRLS for a GLM)", 'newton')
    >>> known_algorithm("multivariate-gaussian", "quadratic", ("rho=1",), 1)
    ('Ridge regression', 'ridge')
    """
    record = known_record(family, loss_kind, keys, step, loss=loss, prior=prior)
    if record is not None:
        return record.title, record.anchor
    has = set(keys)
    if family not in GAUSSIANS:
        # conjugate Bayes: the family's own likelihood, ρ = 1, whatever else was asked
        pairs = {r.family: r for r in RECORDS.values() if r.table_1 == "Conjugate Bayes"}
        if loss_kind == "default-likelihood" and step == 1 and family in pairs:
            return _named(pairs[family].name)
        return None, None
    fixed = family == "gaussian-fixed-covariance" or "fixed-covariance" in has
    if loss_kind in ("quadratic", "linear-gaussian"):
        if step == 1 and family == "multivariate-gaussian":
            return _named("ridge" if loss_kind == "quadratic" else "kalman_update")
        return None, None
    # general rules: a family of requests each, in order
    if fixed and "delta" in has:
        return _named("sgd" if "stochastic" in has else "gradient_descent")
    if family == "diagonal-gaussian" and {"squared-gradient", "square-root", "decoupled-step"} <= has:
        return _named("adam" if {"gradient-average", "bias-correction"} <= has else "rmsprop")
    if "gauss-hermite" in has and step == 1 and loss_kind == "glm":
        return _named("ncvmp")
    if family == "gaussian-mixture" and {"responsibility", "delta"} <= has:
        return _named("multimodal")
    if family == "diagonal-gaussian" and {"reparam-hessian", "hessian-scale", "gradient-average"} <= has:
        return _named("ivon")
    if family == "diagonal-gaussian" and "gauss-newton" in has and "stochastic" in has:
        return _named("ogn" if "delta" in has else "vogn")
    glm = " (IRLS for a GLM)" if loss_kind == "glm" else ""
    if family == "diagonal-gaussian" and has == {"delta"}:
        return _named("diagonal_newton")
    if family == "multivariate-gaussian" and "delta" in has and has <= {"delta"} | {k for k in keys
                                                                                if k.startswith("rho=")}:
        title, anchor = _named("newton" if step == 1 else "damped_newton")
        return title + glm, anchor
    if family == "multivariate-gaussian" and not has - {k for k in keys if k.startswith("rho=")} \
            and loss_kind in ("oracle", "glm", "component"):
        return _named("variational_newton")
    return None, None


#: family key -> (an example loss that derives, what it gives) or (None, why nothing derives yet);
#: ``blrkit derive --list`` prints it and a test derives every example
DERIVABLE = {
    "gaussian-fixed-covariance": ("oracle", "delta: gradient descent; any oracle, GLM or loss in θ"),
    "gaussian": ("conjugate", "conjugate Gaussian mean; any loss in θ (exact for polynomials, exp(cθ); else Monte Carlo)"),
    "multivariate-gaussian": ("oracle", "Newton, ridge, Kalman, variational Newton; GLM losses, losses in θ"),
    "diagonal-gaussian": ("oracle", "diagonal Newton, OGN, VOGN, RMSprop, Adam, IVON; GLM losses, losses in θ"),
    "bernoulli": ("3*theta - 1", "any loss in θ ∈ {0, 1} (exact, by enumeration)"),
    "categorical": ("theta_1 - 2*theta_2", "any loss of the one-hot θ (exact, by enumeration)"),
    "beta": ("conjugate", "conjugate Bernoulli; any loss in θ (exact for θ^a (1 − θ)^b, logs; else Monte Carlo)"),
    "gamma": ("conjugate", "conjugate Poisson; any loss in θ (exact for θ^k, log θ, by F⁻¹; else Monte Carlo)"),
    "exponential": ("2*theta + exp(theta/2)", "any loss in θ (exact for polynomials, exp(cθ); else Monte Carlo)"),
    "poisson": ("theta + exp(-theta)", "any loss in θ (exact for polynomials, exp(cθ); else Monte Carlo)"),
    "dirichlet": ("conjugate", "conjugate categorical (one-hot data); losses in T(θ) = log θ_k"),
    "normal-gamma": ("conjugate", "conjugate Gaussian with unknown mean and precision; losses in T(θ)"),
    "gaussian-mixture": ("oracle", "multimodal optimisation (responsibility, delta: K damped Newton runs and "
                                   "Laplace-evidence weights); no approximation: Monte-Carlo mixture VI (--rule "
                                   "improved); fixed-covariance, responsibility, stochastic (+ delta): dropout"),
    # candidates over latent variables and parameters together: the model is the recipe's own
    "categorical+gaussian": ("model", "EM for a Gaussian mixture: delta (for the parameters), rho=1"),
    "dirichlet+categorical": ("model", "SVI for latent Dirichlet allocation: stochastic (the topics), rho=1 (the "
                                       "documents)"),
}

#: the composite candidates (a latent-variable model of their own) and the approximations they derive with
COMPOSITE = {"categorical+gaussian": ("delta", "rho=1"), "dirichlet+categorical": ("stochastic", "rho=1")}

GAUSSIANS = ("gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian", "gaussian-mixture")
