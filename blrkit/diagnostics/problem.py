r"""A problem for the diagnostics: the loss :math:`\bar\ell = \ell - \log p_0` as numeric callables.

The exact posterior is :math:`p(\theta \mid \mathcal D) \propto e^{-\bar\ell(\theta)}`; every diagnostic
integrates against it or against a Gaussian candidate, so the problem gives :math:`\bar\ell`, its
gradient and its Hessian for θ with leading axes ``(*lead, D)``, and, where it has data, the data the
derived steps take (``X``, ``y``, ``alpha``) and its per-example gradients (Gauss–Newton).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np

from blrkit._validation import as_float_array, check_choice, check_count, check_instance, check_scalar, check_spd

__all__ = ["Problem", "check_problem", "check_state", "glm_problem"]

#: What a problem can evaluate (:meth:`Problem.evaluate`).
EVALUATES = ("loss", "grad", "hess", "grad_terms", "predict")


@dataclass(frozen=True)
class Problem:
    r"""The loss :math:`\bar\ell(\theta) = \ell(\theta) - \log p_0(\theta)` over :math:`\theta \in \mathbb R^D`.

    Parameters
    ----------
    loss, grad, hess : callable
        θ ``(*lead, D)`` → :math:`\bar\ell` ``(*lead,)``, :math:`\nabla\bar\ell` ``(*lead, D)``,
        :math:`\nabla^2\bar\ell` ``(*lead, D, D)``; finite everywhere on :math:`\mathbb R^D` (the posterior
        of a Gaussian candidate has no boundary).
    dim : int
        D.
    grad_terms : callable, optional
        θ ``(*lead, D)`` → the N per-example gradients :math:`\nabla\bar\ell_i` ``(*lead, N, D)``, each
        with its share of the prior, summing to ``grad``: the Gauss–Newton steps (OGN, VOGN) need them.
    predict : callable, optional
        θ ``(*lead, D)`` → a prediction ``(*lead, K)`` (a rate, a probability) whose posterior mean is
        compared: the predictive error.
    data : mapping, optional
        Values of the steps' data arguments, by name (``X``, ``y``, ``alpha``, ``noise_variance``).
    name : str
        For tables and plots.

    Examples
    --------
    >>> A = np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> p = Problem(lambda t: 0.5 * np.einsum("...i,ij,...j->...", t, A, t), lambda t: t @ A,
    ...             lambda t: np.broadcast_to(A, t.shape[:-1] + (2, 2)), dim=2, name="Gaussian")
    >>> float(p.loss(np.ones(2)))
    2.0
    """

    loss: Callable
    grad: Callable
    hess: Callable
    dim: int
    grad_terms: Callable | None = None
    predict: Callable | None = None
    data: Mapping = field(default_factory=dict)
    name: str = "problem"

    def __post_init__(self):
        for name in ("loss", "grad", "hess"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name} must be a callable θ (..., D) -> array, got {type(getattr(self, name)).__name__}")
        for name in ("grad_terms", "predict"):
            if getattr(self, name) is not None and not callable(getattr(self, name)):
                raise TypeError(f"{name} must be a callable or None, got {type(getattr(self, name)).__name__}")
        object.__setattr__(self, "dim", check_count(self.dim, "dim"))
        if not isinstance(self.data, Mapping):
            raise TypeError(f"data must be a mapping of argument names to values, got {type(self.data).__name__}")
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    def evaluate(self, what: str, theta) -> np.ndarray:
        """``what`` (``"loss"``, ``"grad"``, ``"hess"``, ``"grad_terms"``, ``"predict"``) at θ ``(n, D)``, its
        shape and finiteness checked: ``ValueError`` naming the callable otherwise."""
        fn = getattr(self, check_choice(what, "what", EVALUATES))
        if fn is None:
            raise ValueError(f"the problem {self.name!r} has no {what}: give Problem({what}=...)")
        theta = as_float_array(theta, "theta")
        if theta.ndim != 2 or theta.shape[1] != self.dim:
            raise ValueError(f"theta must have shape (n, {self.dim}) for the problem {self.name!r}, got {theta.shape}")
        n, D = theta.shape
        try:
            out = np.asarray(fn(theta.copy()), dtype=float)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{what} of the problem {self.name!r} failed on θ of shape {theta.shape}: {e}") from None
        want = {"loss": (n,), "grad": (n, D), "hess": (n, D, D)}.get(what)
        if want is not None and out.shape != want:
            raise ValueError(f"{what} must map θ of shape {theta.shape} to shape {want}, got {out.shape}")
        if what == "grad_terms" and (out.ndim != 3 or out.shape[0] != n or out.shape[2] != D):
            raise ValueError(f"grad_terms must map θ of shape {theta.shape} to shape ({n}, N, {D}), got {out.shape}")
        if what == "predict" and (out.ndim != 2 or out.shape[0] != n):
            raise ValueError(f"predict must map θ of shape {theta.shape} to shape ({n}, K), got {out.shape}")
        bad = ~np.isfinite(out)
        if bad.any():
            at = theta[np.argmax(bad.reshape(n, -1).any(-1))]
            raise ValueError(f"{what} of the problem {self.name!r} is not finite (NaN or inf) at θ = "
                             f"{np.array2string(at, precision=4)}: a Gaussian candidate and the quadrature need "
                             f"ℓ̄ finite on all of R^{D}")
        return out


def check_problem(problem, name: str = "problem") -> "Problem":
    """``problem`` if it is a :class:`Problem`, else ``TypeError`` naming ``name``."""
    return check_instance(problem, name, Problem, "a blrkit.diagnostics.Problem (see glm_problem)")


def check_state(problem: Problem, m, S, names=("m", "S")):
    """A Gaussian state of the problem: the mean ``(D,)`` finite, the precision ``(D, D)`` symmetric positive
    definite (I if ``None``); ``ValueError``/``TypeError`` naming ``names``."""
    m = as_float_array(m, names[0])
    if m.shape != (problem.dim,):
        raise ValueError(f"{names[0]} must have shape ({problem.dim},) for the problem {problem.name!r}, got {m.shape}")
    S = np.eye(problem.dim) if S is None else check_spd(S, names[1], problem.dim)
    if S.ndim != 2:
        raise ValueError(f"{names[1]} must be one ({problem.dim}, {problem.dim}) precision matrix, got shape {S.shape}")
    return m, S


def glm_problem(X, y, *, likelihood: str, alpha: float, X_test=None, name: str | None = None) -> Problem:
    r"""The GLM :math:`\bar\ell(\theta) = \sum_i f(x_i^\top\theta, y_i) + \tfrac\alpha2\|\theta\|^2` as a :class:`Problem`.

    ``likelihood`` is a name of :data:`blrkit.duality.LIKELIHOODS` (``"logistic"``, ``"poisson"``, …); the
    per-example terms carry α/(2N)‖θ‖² each (OGN's convention); ``predict`` is the mean response
    :math:`A'(x_*^\top\theta)` at ``X_test`` (a rate, a probability) when given. The data travel to the
    derived GLM steps as ``X``, ``y``, ``alpha``.

    >>> p = glm_problem([[1.0], [2.0]], [0, 3], likelihood="poisson", alpha=1.0)
    >>> float(p.grad(np.zeros((1, 1)))[0, 0])   # Σ x_i (e^0 − y_i) + α·0
    -3.0
    """
    from blrkit.duality.likelihoods import get_likelihood

    lik = get_likelihood(likelihood)
    X = as_float_array(X, "X")
    y = as_float_array(y, "y")
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (N, D) and y (N,), got shapes {X.shape} and {y.shape}")
    lik.check_y(y, lik.name)
    alpha = check_scalar(alpha, "alpha", low=0.0)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None, got {type(name).__name__}")
    N, D = X.shape

    def loss(theta):
        eta = theta @ X.T
        return -lik.log_density(eta, y, 1.0).sum(-1) + 0.5 * alpha * np.sum(theta ** 2, -1)

    def grad(theta):
        return lik.d1(theta @ X.T, y, 1.0) @ X + alpha * theta

    def hess(theta):
        w = lik.d2(theta @ X.T, y, 1.0)
        return np.einsum("...n,ni,nj->...ij", w, X, X) + alpha * np.eye(D)

    def grad_terms(theta):
        return lik.d1(theta @ X.T, y, 1.0)[..., None] * X + (alpha / N) * theta[..., None, :]

    predict = None
    if X_test is not None:
        Xt = as_float_array(X_test, "X_test")
        if Xt.ndim != 2 or Xt.shape[1] != D:
            raise ValueError(f"X_test must be (M, {D}), got shape {Xt.shape}")
        if lik.mean is None:
            raise ValueError(f"the {lik.name} likelihood has no mean response A'(η) to predict")

        def predict(theta):
            return lik.mean(theta @ Xt.T, 1.0)

    return Problem(loss, grad, hess, D, grad_terms=grad_terms, predict=predict,
                   data={"X": X, "y": y, "alpha": alpha}, name=name or f"{lik.name} GLM (N = {N})")
