"""Registry of paper anchors: one key per place in the literature that blrkit cites.

Every derivation, approximation and algorithm docstring cites its source through
:func:`cite`, so a section number is written once, here.  Section numbers follow
Table 1 of Khan & Rue (2023) as reproduced in the talk this project was seeded from.
"""

from __future__ import annotations

KHAN_RUE = "Khan & Rue (2023), The Bayesian Learning Rule, JMLR 24"

#: key -> (short citation, what is there)
ANCHORS: dict[str, tuple[str, str]] = {
    "blr": ("Khan & Rue 2023, Sec. 1.2", "the Bayesian learning rule, natural and expectation parameters"),
    "blr-conjugate-form": ("Khan & Rue 2023, Sec. 1.2", "λ ← (1−ρ)λ − ρ∇_μ E_q[ℓ̄] for a constant base measure"),
    "bonnet-price": ("Khan & Rue 2023, Sec. 1.3", "Gaussian natural gradients from Bonnet's and Price's theorems"),
    "gradient-descent": ("Khan & Rue 2023, Sec. 1.3", "gradient descent: Gaussian with fixed covariance, delta method"),
    "newton": ("Khan & Rue 2023, Sec. 1.3", "Newton's method: Gaussian, delta method, ρ = 1"),
    "multimodal": ("Khan & Rue 2023, Sec. 3.2", "multimodal optimisation with a mixture of Gaussians"),
    "mixture": ("Khan & Rue 2023, Sec. 3.2", "mixtures as minimal conditional exponential families"),
    "sgd": ("Khan & Rue 2023, Sec. 4.1", "stochastic gradient descent: delta method, stochastic approximation"),
    "rmsprop": ("Khan & Rue 2023, Sec. 4.2", "RMSprop/Adam: diagonal Gaussian, Hessian approximation"),
    "dropout": ("Khan & Rue 2023, Sec. 4.3", "Dropout: mixture of Gaussians, responsibility approximation"),
    "ogn": ("Khan & Rue 2023, Sec. 4.4", "online Gauss–Newton and variational OGN"),
    "laplace": ("Khan & Rue 2023, Sec. 4.4", "Laplace's method: Gaussian, delta method, fixed point"),
    "variational-newton": ("Khan & Rue 2023, Sec. 4.4", "the Gaussian BLR without the delta method (variational Newton)"),
    "ste": ("Khan & Rue 2023, Sec. 4.5", "straight-through estimator: Bernoulli, delta method"),
    "bayesbinn": ("Khan & Rue 2023, Sec. 4.5", "BayesBiNN: Bernoulli without the delta method"),
    "conjugate": ("Khan & Rue 2023, Sec. 5.1", "conjugate Bayes: ρ = 1 gives the exact posterior in one step"),
    "ridge": ("Khan & Rue 2023, Sec. 5.1", "ridge regression as conjugate Bayes with a Gaussian"),
    "kalman": ("Khan & Rue 2023, Sec. 5.1", "the Kalman filter as conjugate Bayes with a Gaussian"),
    "em": ("Khan & Rue 2023, Sec. 5.2", "expectation–maximisation: delta method for the parameters"),
    "svi": ("Khan & Rue 2023, Sec. 5.3", "stochastic variational inference: local ρ = 1"),
    "vmp": ("Khan & Rue 2023, Sec. 5.3", "variational message passing: ρ = 1 for all nodes"),
    "ncvi": ("Khan & Rue 2023, Sec. 5.4", "non-conjugate VI with mixtures of exponential families"),
    "delta-method": ("Khan & Rue 2023, Sec. 1.3", "delta method: E_q[f(θ)] ≈ f(m)"),
    "fixed-covariance": ("Khan & Rue 2023, Sec. 1.3", "Gaussian with fixed covariance: only m is learned"),
    "unit-step": ("Khan & Rue 2023, Sec. 5.1", "learning rate ρ = 1"),
    "stochastic-gradient": ("Khan & Rue 2023, Sec. 4.1", "minibatch estimate of a sum of N terms"),
    "monte-carlo": ("Khan & Rue 2023, Sec. 4.4", "Monte-Carlo estimates of E_q[·] with θ ~ q"),
    "improved-blr": ("Lin, Schmidt & Khan 2020 (ICML), Sec. 3; Khan & Rue 2023, Sec. 4.4",
                     "the improved BLR: a second-order retraction keeps the precision positive definite"),
    "woodbury": ("Khan & Rue 2023, Sec. 5.1", "information form to gain form by the Woodbury identity"),
    "duality": ("Khan & Rue 2023, Sec. 5",
                "BLR solutions as sums of local natural parameters, λ* = λ₀ + Σ λ̃_i (the section is unconfirmed)"),
    "memory-perturbation": ("Nickl, Xu, Tailor, Möllenhoff & Khan 2023 (NeurIPS), Sec. 3",
                            "removing an example subtracts its site: leave-one-out from one fit"),
    "kprior": ("Khan & Swaroop 2021 (NeurIPS), Sec. 3",
               "knowledge-adaptation priors: faithful gradient reconstruction from a memory"),
    "dnn2gp": ("Khan, Immer, Abedi & Korzepa 2019 (NeurIPS), Sec. 3",
               "approximate inference turns deep networks into Gaussian processes: the kernel J(x) Σ J(x')ᵀ of the "
               "network linearised at a BLR solution (the section is unconfirmed)"),
    "ivon": ("Khan & Rue 2023, Sec. 4.2; Shen et al. 2024 (ICML), Sec. 3, Alg. 1",
             "IVON: the improved BLR for the diagonal Gaussian with a reparameterisation Hessian"),
}


def cite(key: str) -> str:
    """Return the short citation for ``key``, e.g. ``"Khan & Rue 2023, Sec. 1.3"``.

    >>> cite("newton")
    'Khan & Rue 2023, Sec. 1.3'
    """
    try:
        return ANCHORS[key][0]
    except KeyError:
        raise KeyError(f"unknown paper anchor {key!r}; known: {sorted(ANCHORS)}") from None
