r"""Candidates: the families q the BLR is run over, behind one protocol (Khan & Rue 2023, Sec. 1.2).

A candidate knows how to turn a loss, a prior, an ordered chain of approximations and a rule into
the derived update

.. math::

    \lambda_{t+1} = (1-\rho)\lambda_t - \rho\nabla_\mu\mathbb{E}_{q_t}[\bar\ell(\theta)].

Each implementation carries one way of computing :math:`\nabla_\mu`: Bonnet's and Price's theorems for
Gaussians (full, diagonal, fixed covariance), :math:`F(\lambda)^{-1}\nabla_\lambda` for any other
exponential family, the joint of a mixture, enumeration or relaxation for binary weights, and products
of candidates (mean field: VMP, EM, SVI for LDA).  :func:`blrkit.derive.derive` turns a family key or a
family object into its candidate once, by :func:`.products.as_candidate`, and then calls it: nothing downstream
compares family names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import MappingProxyType

from ..families.base import Trait
from .derivation import Derivation
from .errors import DerivationError

__all__ = ["Candidate", "Names", "Gaussian", "ExponentialCandidate", "Binary", "Mixture", "GAUSSIAN_KINDS",
           "candidate_of_family"]


@dataclass(frozen=True)
class Names:
    """What a derivation is called: the emitted step's ``function_name``, its ``title`` and paper ``anchor``
    (``None``: the candidate's own, or the known algorithm's)."""

    function_name: str = "blr_step"
    title: str | None = None
    anchor: str | None = None


class Candidate(ABC):
    """The protocol of a candidate q.

    ``key`` is the family key a :class:`Derivation` records; ``rules`` the rules it derives;
    :meth:`derive` derives the update for a loss, a prior, an ordered chain of approximations and a rule.
    :meth:`derive` returns the derivation and the loss object it was derived for, which
    :func:`blrkit.derive.derive` records with the request for the numerical certificate (:mod:`.certify`), or
    ``None`` when the derivation is not re-derived by the certificate.
    """

    key: str = ""
    rules: tuple[str, ...] = ("blr",)
    #: what the candidate is (:class:`~blrkit.families.Trait`): an approximation applies to a candidate that has one
    #: of the traits it declares
    traits: frozenset = frozenset()
    #: its sufficient statistics are matrices (θ, θθᵀ): a mean-field product derives such a block apart
    matrix_statistics = False

    def check(self, approximations) -> None:
        """Refuse an approximation that does not apply to this candidate: each declares the traits it
        ``applies_to`` (none: any candidate), and the candidate must have one of them."""
        for a in approximations:
            if a.applies_to and not a.applies_to & self.traits:
                raise DerivationError(f"{a.name} does not apply to the {self.key} family "
                                      f"(it applies to: {'; or '.join(sorted(t.value for t in a.applies_to))})")

    def bind(self, *problem) -> tuple:
        """``(candidate, loss, prior)`` from a recipe's problem ``(loss, prior)``; a product of candidates
        declared by its problem (mean field) reads its blocks from it."""
        return (self, *problem)

    def resolve_prior(self, prior):
        """The prior object for ``prior`` (a str ``"isotropic"``/``"none"``, ``None`` or a prior object)."""
        if not isinstance(prior, str):
            return prior
        if prior not in ("isotropic", "none"):
            raise DerivationError(f"unknown prior {prior!r}; known: 'isotropic' (N(0, α⁻¹I), Gaussians), 'none' "
                                  "(ℓ̄ = ℓ) or a prior object")
        if prior == "isotropic":
            raise DerivationError(f"the isotropic Gaussian prior needs a Gaussian family, not {self.key}")
        return prior

    @abstractmethod
    def derive(self, loss, prior, approximations: tuple, rule: str, names: Names) -> tuple:
        """``(derivation, loss)``: this candidate's BLR step for ``loss`` (``None``: the default), ``prior``
        (resolved by :meth:`resolve_prior`), ``approximations`` (ordered and checked by :meth:`check`) and
        ``rule`` (one of :attr:`rules`)."""

    def request_family(self):
        """The family object :mod:`.certify` re-derives with (``None``: a Gaussian in general dimension)."""
        return None

    def default_loss(self, fam):
        """The loss when none is given (``None``: there is none)."""
        return None

    def loss_in_theta(self, fam, expr):
        """The loss object of a SymPy expression in θ."""
        raise DerivationError(f"the {self.key} candidate takes no loss in θ")


def _prepared(candidate, fam, loss, prior, approx, rule, names: Names):
    """The loss object, and the title and anchor of the algorithm the choices reproduce, for a candidate over
    one family (``fam``: its family object, ``None`` for a Gaussian in general dimension)."""
    from .entry import as_loss

    loss = as_loss(candidate, fam, loss)
    named = _known(candidate, loss, prior, approx, names)
    if names.title is None and names.anchor is None and rule == "improved" \
            and not any(getattr(a, "implies_improved_rule", False) for a in approx):
        # an algorithm whose chain names the improved rule (IVON) keeps its own title
        named = Names(names.function_name, f"Improved BLR ({named.title or 'Gaussian BLR'})", "improved-blr")
    return loss, named


def _known(candidate, loss, prior, approx, names: Names) -> Names:
    """``names``, with the title and anchor of the algorithm the request reproduces (its recipe record, or
    :mod:`.known`'s general rules) when neither was given."""
    from .entry import known_algorithm_of

    if names.title is not None or names.anchor is not None:
        return names
    return Names(names.function_name, *known_algorithm_of(candidate, loss, prior, approx))


class Gaussian(Candidate):
    r"""A Gaussian :math:`q = \mathcal N(m, S^{-1})` in general dimension D: ``kind`` ``"full"``,
    ``"diagonal"`` (mean field, elementwise) or ``"fixed"`` (:math:`S = I`, only the mean is learned)."""

    rules = ("blr", "improved")
    #: kind -> the family key a derivation records
    KEYS = {"fixed": "gaussian-fixed-covariance", "full": "multivariate-gaussian", "diagonal": "diagonal-gaussian"}
    #: the trait of a family whose candidate this is -> kind
    KINDS = MappingProxyType({Trait.FIXED_COVARIANCE: "fixed", Trait.FULL_PRECISION: "full",
                              Trait.DIAGONAL_PRECISION: "diagonal"})

    def __init__(self, kind: str = "full"):
        if kind not in self.KEYS:
            raise ValueError(f"kind must be one of {', '.join(self.KEYS)}, got {kind!r}")
        self.kind = kind
        self.key = self.KEYS[kind]
        self.traits = frozenset({Trait.GAUSSIAN, *(t for t, k in self.KINDS.items() if k == kind)})

    def __repr__(self) -> str:
        return f"Gaussian({self.kind!r})"

    @property
    def matrix_statistics(self) -> bool:
        return self.kind == "full"

    #: q = N(m, I): only the mean is learned
    @property
    def fixed_covariance(self) -> bool:
        return self.kind == "fixed"

    def resolve_prior(self, prior):
        from .losses import isotropic_prior

        if prior == "isotropic":
            return isotropic_prior()
        if prior == "none":
            return None
        return super().resolve_prior(prior)

    def default_loss(self, fam):
        from .losses import OracleLoss

        return OracleLoss()

    def loss_in_theta(self, fam, expr):
        from .entry import component_loss

        return component_loss(expr)

    def derive(self, loss, prior, approx, rule, names):
        from .approximations import FixedCovariance
        from .gaussian_assembly import assemble_gaussian
        from .gaussian import derive_gaussian
        from .losses import GaussianPrior, OracleLoss

        loss, names = _prepared(self, None, loss, prior, approx, rule, names)
        me = Gaussian("fixed") if any(isinstance(a, FixedCovariance) for a in approx) else self
        if prior is not None and not isinstance(prior, GaussianPrior):
            raise TypeError(f"prior of a Gaussian candidate must be 'isotropic', 'none', None or a GaussianPrior, got "
                            f"{type(prior).__name__}")
        if isinstance(loss, OracleLoss) and prior is not None and prior.isotropic is None:
            raise DerivationError("with an OracleLoss, put the prior into the loss (ℓ̄ = ℓ − log p₀), or give "
                                  "the isotropic prior N(0, α⁻¹I)")
        if rule == "improved" and me.kind == "fixed":
            raise DerivationError("the improved BLR changes the precision update: a fixed covariance has none")
        fields = derive_gaussian(me.kind, loss, prior, approx, rule)
        return assemble_gaussian(me, fields, approx, names.function_name, names.title, names.anchor), loss


class ExponentialCandidate(Candidate):
    r"""Any exponential family through :math:`\nabla_\mu = F(\lambda)^{-1}\nabla_\lambda` (:mod:`blrkit.derive.conjugate`)."""

    def __init__(self, family):
        self.family = family
        self.key = family.key
        self.traits = family.traits

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r})"

    def request_family(self):
        return self.family

    def default_loss(self, fam):
        from .conjugate import CONJUGATE_PROBLEMS

        # the conjugate problem of a family with the same T(θ), log h(θ) and A(λ) (made from it or equal to it)
        for make in CONJUGATE_PROBLEMS.values():
            f, lik = make()
            if _same_density(f, self.family):
                return lik
        return None

    def loss_in_theta(self, fam, expr):
        from .entry import no_stray_symbols
        from .conjugate import Likelihood, Y

        no_stray_symbols(self.key, fam, expr)
        return Likelihood("loss in θ", expr) if expr.has(Y) else Likelihood("loss in θ", expr, data_free=True)

    def derive(self, loss, prior, approx, rule, names):
        loss, names = _prepared(self, self.family, loss, prior, approx, rule, names)
        return self._derive_prepared(loss, prior, approx, names), loss

    def _derive_prepared(self, loss, prior, approx, names):
        from .conjugate import derive_conjugate
        from .losses import ExpressionLoss, GLMLoss, OracleLoss

        if isinstance(loss, (OracleLoss, GLMLoss, ExpressionLoss)):
            raise DerivationError(f"the {self.key} family takes a loss in its θ ({', '.join(map(str, self.family.theta))}) "
                                  f"or a likelihood over data; {type(loss).__name__} needs a Gaussian candidate")
        return derive_conjugate(self.family, loss, prior, approx, function_name=names.function_name,
                                title=names.title, anchor=names.anchor)


class Binary(ExponentialCandidate):
    r"""Binary weights :math:`w = 2\theta - 1 \in \{-1, +1\}` (Bernoulli): an oracle loss in w derives BayesBiNN /
    STE or the exact natural gradient by enumeration (:mod:`blrkit.derive.binary`); a loss in θ the Bernoulli's conjugate path."""

    def _derive_prepared(self, loss, prior, approx, names):
        from .binary import derive_binary
        from .losses import OracleLoss

        if isinstance(loss, OracleLoss):
            return derive_binary(loss, prior, approx, function_name=names.function_name, title=names.title,
                                 anchor=names.anchor)
        return super()._derive_prepared(loss, prior, approx, names)

    def derive(self, loss, prior, approx, rule, names):
        from .losses import OracleLoss

        d, loss = super().derive(loss, prior, approx, rule, names)
        return (d, None) if isinstance(loss, OracleLoss) else (d, loss)  # the relaxed path keeps no request


class Mixture(Candidate):
    r"""A mixture of K Gaussians as the joint :math:`q(\theta, z)` (:mod:`blrkit.derive.mixture`), its prior in its oracle loss."""

    key = "gaussian-mixture"
    rules = ("blr", "improved")
    traits = frozenset({Trait.GAUSSIAN, Trait.MIXTURE})

    def resolve_prior(self, prior):
        prior = super().resolve_prior(prior)
        if prior is not None:
            raise DerivationError("the gaussian-mixture family takes the prior in its oracle loss")
        return prior

    def derive(self, loss, prior, approx, rule, names):
        from .losses import OracleLoss
        from .mixture import derive_mixture

        loss = OracleLoss() if loss is None else loss
        if rule == "blr":  # the record whose request this is, if any (the improved rule: the mixture's own title)
            names = _known(self, loss, prior, approx, names)
        return derive_mixture(loss, approx, rule=rule, function_name=names.function_name, title=names.title,
                              anchor=names.anchor), None


def _same_density(f, g) -> bool:
    """``f`` and ``g`` are one family: the same θ, T(θ), log h(θ) and A(λ)."""
    return f is g or (f.theta, f.statistics, f.log_base_measure, f.log_partition) == \
        (g.theta, g.statistics, g.log_base_measure, g.log_partition)


#: Gaussian family key -> kind (kept for callers outside the engine: the CLI, the diagnostics)
GAUSSIAN_KINDS = MappingProxyType({key: kind for kind, key in Gaussian.KEYS.items()})


def _candidate_of(traits, family) -> Candidate:
    """The candidate of a family with ``traits``; ``family()`` builds the family object (only when the candidate
    keeps it)."""
    kinds = [kind for trait, kind in Gaussian.KINDS.items() if trait in traits]
    if kinds:
        return Gaussian(kinds[0])
    if Trait.MIXTURE in traits:
        return Mixture()
    return (Binary if Trait.BINARY in traits else ExponentialCandidate)(family())


def candidate_of_family(family) -> Candidate:
    """The candidate of one family, chosen by its traits (:class:`~blrkit.families.Trait`): a family key (a str,
    looked up once in :data:`~blrkit.families.FAMILIES`, whose factories declare their traits) or an
    :class:`~blrkit.families.ExponentialFamily`.

    >>> candidate_of_family("diagonal-gaussian")
    Gaussian('diagonal')
    >>> candidate_of_family("beta")
    ExponentialCandidate('beta')
    """
    from ..families import FAMILIES, ExponentialFamily

    if isinstance(family, str):
        if family not in FAMILIES:
            raise DerivationError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
        factory = FAMILIES[family]
        return _candidate_of(factory.traits, factory)
    if not isinstance(family, ExponentialFamily):
        raise TypeError(f"family must be an ExponentialFamily or its key (a str), got {type(family).__name__}")
    return _candidate_of(family.traits, lambda: family)
