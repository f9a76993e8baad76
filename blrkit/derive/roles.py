r"""Roles: what a term of a derivation *is* (the expected gradient, the minibatch gradient, the step size, ...).

A candidate names the symbols of its derivation by role in a :class:`Terms` mapping; an approximation reads
and writes them by role, and declares which roles it ``requires`` and ``produces`` (and which it
``rewrites``), so that the order of a chain is checked from those declarations, not from string keys.

>>> Role.MINIBATCH_GRADIENT.description
'the minibatch gradient'
>>> t = Terms({Role.STEP_SIZE: 1})
>>> t["rho"]
Traceback (most recent call last):
...
TypeError: terms are keyed by Role, got 'rho'
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Role", "Terms", "by_name"]


class Role(Enum):
    """One role a symbol plays in a derivation; the value is its description (used in messages)."""

    @property
    def description(self) -> str:
        return self.value

    # -- the BLR's own quantities ---------------------------------------------------------------
    STEP_SIZE = "the step size ρ"
    STEP_SIZE_VALUE = "the numeric value of the step size ρ"
    DATA_COUNT = "the data count N"
    BATCH_SIZE = "the minibatch size M"
    MEAN = "the mean m_t"
    PRECISION = "the precision S_t (s_t elementwise)"
    NEW_MEAN = "the new mean m_{t+1}"
    NEW_PRECISION = "the new precision S_{t+1} (s_{t+1} elementwise)"
    # -- the loss at the mean and its expectations under q ---------------------------------------
    GRADIENT = "the gradient ∇ℓ(m)"
    HESSIAN = "the Hessian ∇²ℓ(m) (its diagonal elementwise)"
    EXPECTED_GRADIENT = "the expected gradient E_q[∇ℓ]"
    EXPECTED_HESSIAN = "the expected Hessian E_q[∇²ℓ] (its diagonal elementwise)"
    MINIBATCH_GRADIENT = "the minibatch gradient"
    EXPECTED_MINIBATCH_GRADIENT = "the expected minibatch gradient E_q[ĝ_B]"
    MEAN_MINIBATCH_GRADIENT = "the mean minibatch gradient ḡ"
    GAUSS_NEWTON_SUM = "the Gauss–Newton sum Σ_i (∇ℓ_i)²"
    MINIBATCH_GAUSS_NEWTON_SUM = "the minibatch Gauss–Newton sum Σ_{i∈B} (∇ℓ_i)²"
    EXPECTED_GAUSS_NEWTON_SUM = "the expected Gauss–Newton sum E_q[Σ_i (∇ℓ_i)²]"
    EXPECTED_MINIBATCH_GAUSS_NEWTON_SUM = "the expected minibatch Gauss–Newton sum"
    GRADIENT_DEVIATION = "the expected gradient-deviation product E_q[∇ℓ ⊙ (θ − m)]"
    MINIBATCH_GRADIENT_DEVIATION = "the expected minibatch gradient-deviation product E_q[ĝ_B ⊙ (θ − m)]"
    # -- a mixture's component k (and the last component K) ----------------------------------------
    COMPONENT_EXPECTED_GRADIENT = "the expected gradient under component k, E_{q_k}[∇ℓ]"
    COMPONENT_EXPECTED_HESSIAN = "the expected Hessian under component k, E_{q_k}[∇²ℓ]"
    COMPONENT_GRADIENT = "the gradient at component k's mean"
    COMPONENT_HESSIAN = "the Hessian at component k's mean"
    COMPONENT_EXPECTED_LOSS = "the expected loss under component k"
    LAST_EXPECTED_LOSS = "the expected loss under component K"
    COMPONENT_LOSS = "the loss at component k's mean"
    LAST_LOSS = "the loss at component K's mean"
    MIXTURE_GRADIENT_LOG_Q = "E_{q_k}[∇ log q]"
    MIXTURE_HESSIAN_LOG_Q = "E_{q_k}[∇² log q]"
    MIXTURE_LOG_Q = "E_{q_k}[log q]"
    LAST_MIXTURE_LOG_Q = "E_{q_K}[log q]"
    WEIGHT = "component k's weight parameter v_k"
    LAST_WEIGHT = "component K's weight parameter v_K"
    LOG_DET = "log det S_k"
    LAST_LOG_DET = "log det S_K"
    # -- binary weights (BayesBiNN, STE) ------------------------------------------------------------
    NATURAL = "the natural parameter λ"
    NEW_NATURAL = "the new natural parameter λ_{t+1}"
    PRIOR_NATURAL = "the prior's natural parameter λ_0"
    TEMPERATURE = "the relaxation temperature τ"
    RELAXED_GRADIENT = "the relaxed gradient over the Fisher information"
    RELAXATION_SCALE = "the relaxation's scale at ε = 0"
    RELAXATION_SCALE_DEFINITION = "the definition of the relaxation's scale"
    TANH_GRADIENT = "the mean minibatch gradient at the relaxed weights tanh(λ/τ)"
    SIGN_GRADIENT = "the mean minibatch gradient at the binary weights sign λ"
    CONSTANT_SCALE = "the constant in place of the relaxation's scale"
    # -- the textbook form's rewrites (RMSprop, Adam, IVON) -----------------------------------------
    PER_EXAMPLE_PRECISION = "the per-example precision v = s/N"
    NEW_PER_EXAMPLE_PRECISION = "the new per-example precision v_{t+1}"
    EPSILON = "the ε added to the square root"
    LEARNING_RATE = "the decoupled learning rate of the mean"
    LEARNING_RATE_LATEX = "the letter of the decoupled learning rate"
    GRADIENT_AVERAGE = "the average of past gradients g̃_t"
    NEW_GRADIENT_AVERAGE = "the new average of past gradients g̃_{t+1}"
    MOMENTUM_DECAY = "the decay β₁ of the gradient average"
    STEP_NUMBER = "the step number t"
    HESSIAN_AVERAGE = "the Hessian estimate h_t of the mean loss"
    NEW_HESSIAN_AVERAGE = "the new Hessian estimate h_{t+1}"
    WEIGHT_DECAY = "the weight decay δ"
    EFFECTIVE_SAMPLE_SIZE = "the effective sample size N_ess"
    SAMPLED_GRADIENT = "the mean minibatch gradient at the samples ĝ"
    SAMPLED_GRADIENT_DEVIATION = "the mean minibatch gradient-deviation product at the samples"
    HESSIAN_ESTIMATE = "the Hessian estimate ĥ"
    PRECISION_OF_STATE = "the precision of q_t in the other state variables"


class Terms(dict):
    """The symbols of one derivation, keyed by :class:`Role` (a str key is refused: roles are typed)."""

    @staticmethod
    def _check(key):
        if not isinstance(key, Role):
            raise TypeError(f"terms are keyed by Role, got {key!r}")

    def __init__(self, *args, **kwargs):
        if kwargs:
            raise TypeError("terms are keyed by Role, not keyword names")
        super().__init__(*args)
        for k in self:
            self._check(k)

    def __getitem__(self, key):
        self._check(key)
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        self._check(key)
        super().__setitem__(key, value)

    def __contains__(self, key):
        self._check(key)
        return super().__contains__(key)

    def get(self, key, default=None):
        self._check(key)
        return super().get(key, default)

    def update(self, *args, **kwargs):
        if kwargs:
            raise TypeError("terms are keyed by Role, not keyword names")
        for k, v in dict(*args).items():
            self[k] = v


def by_name(terms: Terms) -> dict:
    """The symbols of ``terms`` by their own names (``{"S": S, "E_g": E_g, ...}``): a view for readers of a finished
    derivation, who know its symbols, not for approximations (which read roles)."""
    return {v.name: v for v in terms.values() if hasattr(v, "name")}
