r"""Which known algorithm a choice of family, loss and approximations reproduces (Khan & Rue 2023, Table 1),
and what derives with each registered family.

:func:`known_algorithm` names a derivation however it was asked for (a recipe, the command
line, or a user's own loss): ``--loss quadratic`` with ρ = 1 is ridge regression, a fixed
covariance and the delta method is gradient descent, a GLM loss with the delta method and
ρ = 1 is Newton's method (IRLS).  The recipes in :mod:`blrkit.derive.recipes` carry the same
titles; a test checks that the two agree.
"""

from __future__ import annotations

#: the conjugate pair a non-Gaussian family forms with its default likelihood
CONJUGATE_PAIRS = {
    "beta": "Beta–Bernoulli", "gamma": "Gamma–Poisson", "dirichlet": "Dirichlet–categorical",
    "gaussian": "Gaussian mean, known variance", "normal-gamma": "Normal–Gamma",
}

GAUSSIANS = ("gaussian-fixed-covariance", "multivariate-gaussian", "diagonal-gaussian", "gaussian-mixture")


def known_algorithm(family: str, loss_kind: str, keys: tuple, step=None) -> tuple[str | None, str | None]:
    """``(title, paper anchor)`` of the algorithm reproduced, or ``(None, None)``.

    ``loss_kind`` is ``"oracle"``, ``"glm"``, ``"component"``, ``"quadratic"``, ``"linear-gaussian"``,
    ``"default-likelihood"`` or ``"other"``; ``keys`` the approximation keys in order; ``step`` the
    numeric ρ if one was given.

    >>> known_algorithm("multivariate-gaussian", "glm", ("delta", "rho=1"), 1)
    ("Newton's method (IRLS for a GLM)", 'newton')
    >>> known_algorithm("multivariate-gaussian", "quadratic", ("rho=1",), 1)
    ('Ridge regression', 'ridge')
    """
    has = set(keys)
    if family not in GAUSSIANS:
        if loss_kind == "default-likelihood" and step == 1 and family in CONJUGATE_PAIRS:
            return f"Conjugate Bayes ({CONJUGATE_PAIRS[family]})", "conjugate"
        return None, None
    fixed = family == "gaussian-fixed-covariance" or "fixed-covariance" in has
    if loss_kind in ("quadratic", "linear-gaussian"):
        if step == 1 and family == "multivariate-gaussian":
            return (("Ridge regression", "ridge") if loss_kind == "quadratic"
                    else ("Kalman filter (measurement update)", "kalman"))
        return None, None
    if fixed and "delta" in has:
        return ("Stochastic gradient descent", "sgd") if "stochastic" in has else ("Gradient descent",
                                                                                 "gradient-descent")
    if family == "diagonal-gaussian" and {"squared-gradient", "square-root", "decoupled-step"} <= has:
        return ("Adam", "rmsprop") if {"gradient-average", "bias-correction"} <= has else ("RMSprop", "rmsprop")
    if "gauss-hermite" in has and step == 1 and loss_kind == "glm":
        return "Non-conjugate VMP", "vmp"
    if family == "gaussian-mixture" and {"responsibility", "delta"} <= has:
        return "Multimodal optimisation", "multimodal"
    if family == "diagonal-gaussian" and {"reparam-hessian", "hessian-scale", "gradient-average"} <= has:
        return "IVON", "ivon"
    if family == "diagonal-gaussian" and "gauss-newton" in has and "stochastic" in has:
        return ("Online Gauss-Newton (OGN)", "ogn") if "delta" in has else ("Variational OGN (VOGN)", "ogn")
    glm = " (IRLS for a GLM)" if loss_kind == "glm" else ""
    if family == "diagonal-gaussian" and has == {"delta"}:
        return "Diagonal Newton", "newton"
    if family == "multivariate-gaussian" and "delta" in has and has <= {"delta"} | {k for k in keys
                                                                                if k.startswith("rho=")}:
        return (f"Newton's method{glm}", "newton") if step == 1 else (f"Damped BLR-Newton{glm}", "newton")
    if family == "multivariate-gaussian" and not has - {k for k in keys if k.startswith("rho=")} \
            and loss_kind in ("oracle", "glm", "component"):
        return "Variational Newton", "variational-newton"
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
