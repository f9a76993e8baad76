r"""``derive``: the Bayesian learning rule for a family, a loss and approximations.

.. math::

    \lambda_{t+1} = (1-\rho)\lambda_t - \rho\nabla_\mu\mathbb{E}_{q_t}[\bar\ell(\theta)],
    \qquad \bar\ell = \ell - \log p_0

(Khan & Rue 2023, Sec. 1.2), brought by SymPy to the textbook form of a known algorithm.
"""

from __future__ import annotations

import keyword

from .approximations import Approximation, ordered
from .candidates import GAUSSIAN_KINDS, Names
from .derivation import Derivation
from .entry import component_loss
from .errors import DerivationError
from .products import as_candidate

__all__ = ["GAUSSIAN_KINDS", "LATENT_GAUSSIAN", "TOPIC_MODEL", "component_loss", "derive"]

#: the candidate of EM: one categorical per observation (the latent assignments) and a Gaussian over the
#: parameters (Khan & Rue 2023, Table 1: "Exp-family + Gaussian")
LATENT_GAUSSIAN = "categorical+gaussian"
#: the candidate of SVI for LDA: Dirichlet topics and document proportions, categorical word assignments
TOPIC_MODEL = "dirichlet+categorical"


def derive(family, loss=None, prior=None, approximations=(), *, rule: str = "blr", function_name: str = "blr_step",
           title: str | None = None, anchor: str | None = None) -> Derivation:
    r"""Derive the BLR update of ``family`` for ``loss`` under ``approximations``.

    .. math::

        \lambda_{t+1} = (1-\rho)\lambda_t - \rho\nabla_\mu\mathbb{E}_{q_t}[\bar\ell(\theta) + \log h(\theta)]

    (Khan & Rue 2023, Sec. 1.2–1.3), in four printed stages: the expected loss, its natural
    gradient (Bonnet's and Price's theorems for Gaussians; the chain rule through the family's
    maps, :math:`\nabla_\mu = F(\lambda)^{-1}\nabla_\lambda`, for any other family), the
    approximations in the order given, and the standard parameters / textbook form.

    Parameters
    ----------
    family : Candidate, ExponentialFamily or str
        The candidate q (:mod:`blrkit.derive.candidates`, :mod:`blrkit.derive.products`), a family, or its key
        (``"multivariate-gaussian"``, ``"beta"``, …; see :data:`blrkit.families.FAMILIES`; and the products
        ``"categorical+gaussian"``, EM, and ``"dirichlet+categorical"``, SVI for LDA).  It becomes its candidate
        once (:func:`blrkit.derive.products.as_candidate`), and the candidate derives the update.
    loss : optional
        The loss ℓ:

        - a SymPy expression in the family's θ symbols (``theta`` for a scalar θ,
          ``theta_1``, …, ``theta_D`` for a Gaussian over D components), e.g. a polynomial,
          the Rosenbrock function, or ``theta**2 - 3*log(theta)`` for a Gamma;
        - a :class:`GLMLoss` (:func:`glm_loss`): :math:`\sum_i f(x_i^\top\theta, y_i)`,
          e.g. ``glm_loss("logistic")``;
        - a :class:`Likelihood` over data :math:`y_1..y_N` (conjugate Bayes);
        - an :class:`OracleLoss` (Gaussians; known through ∇ℓ and ∇²ℓ), the default for
          Gaussian families; other families default to their conjugate likelihood;
        - an :class:`ExpressionLoss` in matrix symbols (:func:`quadratic_loss`,
          :func:`linear_gaussian_loss`).
    prior : GaussianPrior, ConjugatePrior, ``"isotropic"`` or ``"none"``, optional
        The prior p₀ in the family; ``"isotropic"`` is :math:`\mathcal{N}(0, \alpha^{-1}I)`
        (:func:`isotropic_prior`).  ``None``: Gaussians ℓ̄ = ℓ, other families the prior in the
        family with standard parameters ``<name>_0``; ``"none"``: ℓ̄ = ℓ for every family (then a
        non-constant base measure enters the update).
    approximations : str, Approximation, or a sequence of them
        Applied in order: ``"delta"``, ``"fixed-covariance"``, ``"gauss-newton"``, ``"stochastic"``,
        ``"rho=1"`` or any step size ``"rho=0.5"``, ``"rho=1/4"`` (:data:`RHO` stays symbolic
        otherwise).
    rule : {"blr", "improved"}
        ``"improved"``: the improved BLR of Lin, Schmidt & Khan (2020) for Gaussian candidates,
        :math:`S_{t+1} = \tfrac12(S_t + B S_t^{-1} B)` with :math:`B` the plain BLR's precision,
        positive definite for any ρ and any Hessian estimate.

    Returns
    -------
    Derivation

    Raises
    ------
    blrkit.derive.errors.DerivationError
        An unknown family, a loss in symbols that are not θ or declared data, an expectation that
        does not exist, or a family/approximation pair that makes no sense; the message names the
        term and the approximation that would remove it.

    Examples
    --------
    Newton's method is the BLR with a Gaussian, the delta method and ρ = 1:

    >>> d = derive("multivariate-gaussian", approximations=["delta", "rho=1"])
    >>> from blrkit.derive.printing import latex
    >>> [latex(eq.rhs) for eq in d.update]
    ['\\nabla^2\\ell(m_t)', 'm_t - S_{t+1}^{-1} \\nabla\\ell(m_t)']

    Logistic regression by the BLR is Newton's method (IRLS):

    >>> from blrkit.derive import glm_loss
    >>> derive("multivariate-gaussian", glm_loss("logistic"), "isotropic", ["delta", "rho=1"]).title
    "Newton's method (IRLS for a GLM)"
    """
    if rule not in ("blr", "improved"):
        raise DerivationError(f"rule must be 'blr' or 'improved', got {rule!r}")
    _check_names(function_name, title, anchor)
    if approximations is None:
        approximations = ()
    elif isinstance(approximations, (str, Approximation)):
        approximations = (approximations,)
    elif not isinstance(approximations, (list, tuple)):
        raise TypeError("approximations must be an approximation's key (a str), an Approximation or a list or "
                        f"tuple of them, got {type(approximations).__name__}")
    try:
        approx = ordered(approximations)
    except ValueError as e:
        raise DerivationError(str(e)) from None
    candidate = as_candidate(family)
    candidate.check(approx)
    prior = candidate.resolve_prior(prior)
    if rule not in candidate.rules:
        raise DerivationError(f"the improved BLR is implemented for Gaussian candidates, not {candidate.key}")
    d, derived_loss = candidate.derive(loss, prior, approx, rule, Names(function_name, title, anchor))
    if derived_loss is None:
        return d
    return _with_request(d, candidate, derived_loss, prior, approx, rule)


def _check_names(function_name, title, anchor) -> None:
    """The names a derivation is given: ``function_name`` a Python identifier (the emitted step's name), ``title``
    a str, ``anchor`` one of :data:`blrkit.paper.ANCHORS` (the section it cites)."""
    from ..paper import ANCHORS

    if not isinstance(function_name, str):
        raise TypeError(f"function_name must be a str, got {type(function_name).__name__}")
    if not function_name.isidentifier() or keyword.iskeyword(function_name):
        raise DerivationError(f"function_name must be a Python identifier (the emitted step's name), got "
                              f"{function_name!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, got {type(title).__name__}")
    if anchor is not None and (not isinstance(anchor, str) or anchor not in ANCHORS):
        raise DerivationError(f"anchor must be None or one of blrkit.paper.ANCHORS ({', '.join(sorted(ANCHORS))}), "
                              f"got {anchor!r}")


def _with_request(d: Derivation, candidate, loss, prior, approx, rule) -> Derivation:
    """``d`` with the request it was derived from (what :mod:`.certify` reads: it shares nothing else): the
    candidate, and the family object it re-derives with (``None``: a Gaussian in general dimension)."""
    d.extra["request"] = {"candidate": candidate, "family": candidate.request_family(), "loss": loss, "prior": prior,
                          "approximations": approx, "rule": rule,
                          "derive": derive}  # the engine, for Derivation.ladder (it cannot import this module)
    return d
