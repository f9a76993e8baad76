r"""Products of candidates: mean field (Khan & Rue 2023, Sec. 5.3), and the one entry :func:`as_candidate`.

A mean-field candidate :math:`q = \prod_b q_b` is declared from its blocks; VMP takes the blocks and the loss
from the user, EM and SVI for LDA declare theirs (their derivations stay in :mod:`blrkit.derive.em` and :mod:`blrkit.derive.lda`).
"""

from __future__ import annotations

from .candidates import Candidate, Names, candidate_of_family
from .derivation import Derivation
from .errors import DerivationError

__all__ = ["MeanField", "LatentGaussian", "TopicModel", "as_candidate"]


class MeanField(Candidate):
    r"""A product :math:`q = \prod_b q_b` of candidates, one per :class:`~blrkit.derive.meanfield.Block`, updated
    in order with the others' expectation parameters (VMP; Khan & Rue 2023, Sec. 5.3).  The loss is a SymPy
    expression in the blocks' names; the approximations given here must be every block's own."""

    key = "mean-field"
    rules = ("blr",)

    def __init__(self, blocks=()):
        self.blocks = tuple(blocks)

    def __repr__(self) -> str:
        return f"MeanField({list(self.blocks)!r})"

    def check(self, approximations) -> None:
        pass  # each block's chain is checked when the block is derived

    def bind(self, *problem) -> tuple:
        blocks, loss = problem
        return (type(self)(blocks), loss, None)

    def resolve_prior(self, prior):
        if prior is not None:
            raise DerivationError("a mean-field candidate takes each block's prior from its Block (prior='family' "
                                  "or 'none'): give no prior")
        return prior

    def derive(self, loss, prior, approx, rule, names):
        from .meanfield import derive_mean_field

        if approx:
            from .approximations import ordered

            keys = tuple(a.key for a in approx)
            for b in self.blocks:
                if tuple(a.key for a in ordered(b.approximations)) != keys:
                    raise DerivationError(f"block {b.name} declares the approximations "
                                          f"{', '.join(map(str, b.approximations)) or 'none'}, not {', '.join(keys)}: "
                                          "a mean-field candidate takes its blocks' own")
        kwargs = {k: v for k, v in (("title", names.title), ("anchor", names.anchor)) if v is not None}
        return derive_mean_field(self.blocks, loss, function_name=names.function_name, **kwargs), None


class _Declared(MeanField):
    """A mean-field product declared from its blocks, whose loss and priors are part of the model: EM and SVI for
    LDA (their derivations stay in :mod:`blrkit.derive.em` and :mod:`blrkit.derive.lda`)."""

    description = ""
    rules = ("blr", "improved")  # refused by the product itself, with what it derives

    def __init__(self):
        super().__init__(self.declared_blocks())

    @classmethod
    def declared_blocks(cls) -> tuple:
        raise NotImplementedError

    def bind(self, *problem) -> tuple:
        return (self, *problem)

    def check(self, approximations) -> None:
        pass

    def resolve_prior(self, prior):
        return prior

    def derive(self, loss, prior, approx, rule, names):
        if loss is not None or prior is not None or rule != "blr":
            raise DerivationError(f"the {self.key} candidate derives {self.description}: give no loss, prior or rule")
        return self.derive_model(approx, names), None

    def derive_model(self, approx, names: Names) -> Derivation:
        raise NotImplementedError


class LatentGaussian(_Declared):
    r"""EM as a mean-field product: one categorical per observation (the latent assignments) and a Gaussian over
    the mixture's parameters (Khan & Rue 2023, Sec. 5.2, Table 1 "Exp-family + Gaussian")."""

    key = "categorical+gaussian"
    description = ("EM for a Gaussian mixture (its complete-data loss, a flat prior, the plain rule)")

    @classmethod
    def declared_blocks(cls):
        from .meanfield import Block

        return (Block("z", "categorical", ()), Block("theta", "multivariate-gaussian", ("delta", "rho=1")))

    def derive_model(self, approx, names):
        from .em import derive_em

        return derive_em(approx, function_name=names.function_name, title=names.title, anchor=names.anchor)


class TopicModel(_Declared):
    r"""SVI for latent Dirichlet allocation as a mean-field product: Dirichlet topics and document proportions,
    categorical word assignments (Khan & Rue 2023, Sec. 5.3)."""

    key = "dirichlet+categorical"
    description = ("SVI for latent Dirichlet allocation (its loss, its Dirichlet priors, the plain rule)")

    @classmethod
    def declared_blocks(cls):
        from .meanfield import Block

        return (Block("beta", "dirichlet", ("stochastic",)), Block("theta", "dirichlet", ("rho=1",)),
                Block("z", "categorical", ("rho=1",)))

    def derive_model(self, approx, names):
        from .lda import derive_lda

        return derive_lda(approx, function_name=names.function_name, title=names.title, anchor=names.anchor)


#: candidates that are not one family: products declared from their blocks, by key
_PRODUCTS = {c.key: c for c in (MeanField, LatentGaussian, TopicModel)}


def as_candidate(family) -> Candidate:
    """The candidate of ``family``: a :class:`Candidate` itself, a family key (a str: one family or a product such
    as ``"categorical+gaussian"``) or an :class:`~blrkit.families.ExponentialFamily`.  The one place where a
    request's family becomes a candidate.

    >>> as_candidate("multivariate-gaussian")
    Gaussian('full')
    >>> as_candidate("dirichlet+categorical").blocks[0]
    Block(name='beta', family='dirichlet', approximations=('stochastic',), prior='family')
    """
    if isinstance(family, Candidate):
        return family
    if isinstance(family, str) and family in _PRODUCTS:
        return _PRODUCTS[family]()
    return candidate_of_family(family)
