r"""GLM likelihoods as functions of the linear predictor η = xᵀθ: the per-example loss and its
first two derivatives in closed form, and their expectations under a Gaussian η.

A generalised linear model has per-example loss :math:`\ell_i(\theta) = f(x_i^\top\theta, y_i)`
with :math:`f(\eta, y) = -\log p(y \mid \eta)`. By the chain rule (the GLM reduction of
Khan & Rue 2023, Sec. 1.3), :math:`\nabla\ell_i = x_i f'(\eta_i)` and
:math:`\nabla^2\ell_i = x_i x_i^\top f''(\eta_i)`, so every quantity of the duality layer is a
pair of scalars per example. Under a Gaussian candidate :math:`q = \mathcal N(m, S^{-1})` the
linear predictor is one-dimensional Gaussian, :math:`\eta_i \sim \mathcal N(x_i^\top m,
x_i^\top S^{-1} x_i)`, and :math:`\mathbb E_q[f'(\eta_i)]`, :math:`\mathbb E_q[f''(\eta_i)]` are
1-D integrals, computed here by Gauss–Hermite quadrature.

Stable forms: the logistic loss through ``logaddexp`` and ``expit``; the probit ratio
:math:`\phi(z)/\Phi(z) = \sqrt{2/\pi}\,/\,\mathrm{erfcx}(-z/\sqrt2)`, finite for every z.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import erfcx, expit, gammaln, log_ndtr

from blrkit._validation import as_float_array, check_binary_labels, check_count

__all__ = ["LIKELIHOODS", "Likelihood", "check_nodes", "gauss_hermite_expectation", "get_likelihood", "glm_likelihood"]

_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)


@dataclass(frozen=True)
class Likelihood:
    r"""One GLM likelihood: ``log_density(η, y, σ²)``, ``d1 = f'(η)`` and ``d2 = f''(η)`` of the loss
    :math:`f = -\log p(y \mid \eta)`, each ``(η, y, σ²)`` → array, elementwise; ``check_y(y, name)``
    (raises ``ValueError`` on labels outside the support), and, for a canonical link,
    ``mean(η, σ²)`` = :math:`A'(\eta)`, the prediction for which :math:`f'(\eta) = 0` (``None``
    otherwise: the K-prior needs it). Build one for a loss of your own and pass it wherever a
    likelihood name is accepted."""

    name: str
    log_density: Callable
    d1: Callable
    d2: Callable
    check_y: Callable
    mean: Callable | None = None
    support: str = ""


def _binary(y, name):
    check_binary_labels(np.asarray(y), "y", f"the {name} likelihood")


def _counts(y, name):
    y = np.asarray(y)
    if not np.all((y >= 0) & (y == np.floor(y))):
        raise ValueError(f"y must hold non-negative integer counts for the {name} likelihood")


def _any(y, name):
    return None


def _probit_ratio(z):
    # φ(z)/Φ(z), the inverse Mills ratio: stable for z → −∞ (≈ −z) and z → +∞ (→ 0)
    return _SQRT_2_OVER_PI / erfcx(-z / np.sqrt(2.0))


def _probit_d1(eta, y, s2):
    s = 2.0 * y - 1.0
    return -s * _probit_ratio(s * eta)


def _probit_d2(eta, y, s2):
    z = (2.0 * y - 1.0) * eta
    r = _probit_ratio(z)
    return r * (z + r)


LIKELIHOODS: dict[str, Likelihood] = {
    # f = (y − η)²/(2σ²) + ½ log(2πσ²)
    "gaussian": Likelihood(
        "gaussian",
        log_density=lambda eta, y, s2: -0.5 * (y - eta) ** 2 / s2 - 0.5 * np.log(2 * np.pi * s2),
        d1=lambda eta, y, s2: (eta - y) / s2,
        d2=lambda eta, y, s2: np.broadcast_to(1.0 / s2, np.broadcast_shapes(np.shape(eta), np.shape(y))),
        check_y=_any, mean=lambda eta, s2: eta, support="any real y"),
    # f = log(1 + e^η) − yη, y ∈ {0, 1}
    "logistic": Likelihood(
        "logistic",
        log_density=lambda eta, y, s2: y * eta - np.logaddexp(0.0, eta),
        d1=lambda eta, y, s2: expit(eta) - y,
        d2=lambda eta, y, s2: expit(eta) * expit(-eta) + 0.0 * y,
        check_y=_binary, mean=lambda eta, s2: expit(eta), support="y in {0, 1}"),
    # f = e^η − yη + log y!, log link
    "poisson": Likelihood(
        "poisson",
        log_density=lambda eta, y, s2: y * eta - np.exp(eta) - gammaln(y + 1.0),
        d1=lambda eta, y, s2: np.exp(eta) - y,
        d2=lambda eta, y, s2: np.exp(eta) + 0.0 * y,
        check_y=_counts, mean=lambda eta, s2: np.exp(eta), support="non-negative integer counts y"),
    # f = −log Φ((2y − 1)η), y ∈ {0, 1}; not a canonical link
    "probit": Likelihood(
        "probit",
        log_density=lambda eta, y, s2: log_ndtr((2.0 * y - 1.0) * eta),
        d1=_probit_d1, d2=_probit_d2, check_y=_binary, mean=None, support="y in {0, 1}"),
}


#: The label supports a custom likelihood may declare, with the check of each.
SUPPORTS = {"binary": _binary, "counts": _counts, "real": _any}


def glm_likelihood(f, name: str | None = None, *, labels="real") -> Likelihood:
    r"""A :class:`Likelihood` from a per-example loss :math:`f(\eta, y) = -\log p(y\mid\eta)` given as text or
    a SymPy expression in ``eta`` and ``y``: the derive engine differentiates it
    (:func:`blrkit.derive.derive_local_parameters`, stable forms of log(1 + e^u), log Φ) and its emitted
    step gives :math:`f'` and :math:`f''`; the log-density is :math:`-f` (normalised by you: it enters
    leave-one-out predictive densities).  Needs SymPy (only here, when called).

    ``labels`` is the support of y, checked by every entry point (:func:`~blrkit.duality.fit_glm`,
    :func:`~blrkit.duality.local_parameters`, K-priors): ``"binary"`` (0 or 1), ``"counts"`` (non-negative
    integers), ``"real"`` (any), or a callable ``check(y, name)`` raising ``ValueError``.  Whatever the
    support, a label at which :math:`f(0, y)` is not finite is refused: it is outside the loss's domain.

    >>> lik = glm_likelihood("log(1 + exp(-(2*y - 1)*eta))", "logistic (0/1)", labels="binary")
    >>> eta, y = np.array([-1.0, 0.5]), np.array([0.0, 1.0])
    >>> bool(np.allclose(lik.d1(eta, y, 1.0), get_likelihood("logistic").d1(eta, y, 1.0)))
    True
    >>> lik.check_y(np.array([0.0, 2.0]), lik.name)
    Traceback (most recent call last):
    ...
    ValueError: y must hold labels 0 or 1 for the logistic (0/1) likelihood (labels are {0, 1}; for ±1 labels pass (y + 1) / 2)
    """
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None, got {type(name).__name__}")
    if callable(labels):
        in_support = labels
    elif isinstance(labels, str) and labels in SUPPORTS:
        in_support = SUPPORTS[labels]
    else:
        raise ValueError(f"labels must be one of {sorted(SUPPORTS)} or a callable check(y, name), got {labels!r}")
    import sympy as sp

    from blrkit.derive import derive_local_parameters, glm_loss
    from blrkit.derive.losses import ETA, Y_OBS

    loss = glm_loss(f)
    step = derive_local_parameters(loss).compile()
    log_density = sp.lambdify((ETA, Y_OBS), -loss.f, modules=["scipy", "numpy"])

    def parts(eta, y):
        eta = np.asarray(eta, dtype=float)
        y = np.broadcast_to(np.asarray(y, dtype=float), eta.shape)
        a, beta = step(np.ones(1), eta[..., None], y)  # x_i = η_i, m = 1: the sites at η
        return beta * eta - a, beta

    def check_y(y, name):
        in_support(y, name)
        y = np.asarray(y, dtype=float)
        with np.errstate(all="ignore"):
            finite = np.isfinite(log_density(np.zeros_like(y), y) + 0.0 * y)
        if not np.all(finite):
            bad = float(y.reshape(-1)[np.argmin(finite.reshape(-1))]) if y.size else float("nan")
            raise ValueError(f"y holds a label outside the domain of the {name} loss: f(0, y) is not finite at "
                             f"y = {bad:g}")

    return Likelihood(name or loss.name, log_density=lambda eta, y, s2: log_density(eta, y) + 0.0 * eta,
                      d1=lambda eta, y, s2: parts(eta, y)[0], d2=lambda eta, y, s2: parts(eta, y)[1],
                      check_y=check_y, support=labels if isinstance(labels, str) else "checked by labels")


def get_likelihood(name) -> Likelihood:
    """The :class:`Likelihood` called ``name``; ``ValueError`` listing the known ones otherwise.

    >>> get_likelihood("logistic").name
    'logistic'
    >>> get_likelihood("cauchy")
    Traceback (most recent call last):
    ...
    ValueError: likelihood must be one of ['gaussian', 'logistic', 'poisson', 'probit'], got 'cauchy'
    """
    if isinstance(name, Likelihood):
        return name
    if not isinstance(name, str) or name not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {sorted(LIKELIHOODS)}, got {name!r}")
    return LIKELIHOODS[name]


#: Rows of η processed at once by the quadrature: bounds its temporary (rows × nodes) arrays.
CHUNK = 1 << 15

#: The most Gauss–Hermite nodes accepted: NumPy's ``hermgauss`` returns NaN weights from about 380 nodes on
#: (its recurrence overflows); every rule up to 256 nodes is finite.
MAX_NODES = 256


def check_nodes(n, name: str = "n_nodes") -> int:
    """A number of Gauss–Hermite nodes, an integer in [1, :data:`MAX_NODES`], or ``ValueError`` naming ``name``.

    >>> check_nodes(2.5, "n_quadrature")
    Traceback (most recent call last):
    ...
    ValueError: n_quadrature must be an integer >= 1, got 2.5
    """
    return check_count(n, name, 1, MAX_NODES)


def gauss_hermite_expectation(fns, mean, variance, y, *, n_nodes: int = 32):
    r""":math:`\mathbb E[g(\eta, y)]` for each ``g`` in ``fns``, with :math:`\eta \sim \mathcal N(a, v)`.

    .. math::

        \mathbb E[g(\eta)] \approx \frac{1}{\sqrt\pi}\sum_{k=1}^{K} w_k\, g\big(a + \sqrt{2v}\, t_k\big),

    with :math:`(t_k, w_k)` the K-point Gauss–Hermite rule (exact for polynomials of degree
    < 2K), K = ``n_nodes`` in [1, 256] (:data:`MAX_NODES`). ``mean`` a, ``variance`` v ≥ 0 and ``y``, finite,
    broadcast to one shape; each ``g(η, y)`` is elementwise. Rows are processed in chunks, so the memory is O(size · K / chunks).

    >>> e, = gauss_hermite_expectation([lambda eta, y: eta ** 2], np.array([1.0]), np.array([4.0]), 0.0)
    >>> float(e[0])  # E[η²] = a² + v
    5.0
    """
    if isinstance(fns, str) or not isinstance(fns, (list, tuple)) or not all(callable(g) for g in fns):
        raise TypeError(f"fns must be a list of callables g(eta, y), got {fns!r:.60}")
    t, w = np.polynomial.hermite.hermgauss(check_nodes(n_nodes))
    w = w / np.sqrt(np.pi)
    a, v, yy = (as_float_array(x, name) for x, name in ((mean, "mean"), (variance, "variance"), (y, "y")))
    if np.any(v < 0):
        raise ValueError("variance must be >= 0")
    try:
        a, v, yy = np.broadcast_arrays(a, v, yy)
    except ValueError:
        raise ValueError(f"mean {a.shape}, variance {v.shape} and y {yy.shape} do not broadcast") from None
    shape = a.shape
    a, v, yy = a.reshape(-1), v.reshape(-1), yy.reshape(-1)
    outs = [np.empty(a.shape) for _ in fns]
    for start in range(0, a.size, CHUNK):
        sl = slice(start, start + CHUNK)
        eta = a[sl, None] + np.sqrt(2.0 * v[sl])[:, None] * t
        for out, g in zip(outs, fns):
            out[sl] = g(eta, yy[sl, None]) @ w
    for k, o in enumerate(outs):
        if not np.isfinite(o).all():
            # finite mean, variance and y, so the nodes a ± √(2v)·t or fns[k] at them overflowed: name both scales
            raise ValueError(f"the expectation of fns[{k}] is not finite: the nodes a ± sqrt(2 v) t overflowed or "
                             f"fns[{k}] is not finite at them (|mean| up to {np.max(np.abs(a)):.3g}, variance up to "
                             f"{np.max(v):.3g}); rescale mean and variance")
    return [o.reshape(shape) for o in outs]
