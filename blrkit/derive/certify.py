r"""A numerical certificate for a derivation: the emitted step against a BLR step computed by numbers.

The certificate runs the step that :meth:`~blrkit.derive.Derivation.emit` printed at a few random
valid states (and data, where the loss has data) and compares it with

.. math::

    \lambda_{t+1} = (1-\rho)\lambda_t - \rho\,F(\lambda_t)^{-1}\nabla_\lambda
    \mathbb{E}_{q_t}\big[\bar\ell(\theta) + \log h(\theta)\big],
    \qquad F(\lambda) = \nabla^2 A(\lambda),

(Khan & Rue 2023, Sec. 1.2) computed without the symbolic engine.  It shares no code with the
derivation: what it reads is the request (the family, the loss, the prior, the approximations), and
from those only

- the family's sufficient statistics :math:`T(\theta)`, base measure :math:`\log h(\theta)`, support and
  standard-to-natural map, turned into numbers (the Gaussian families' are written here by hand);
- the loss as a numeric function of θ (and of the data);
- each approximation's numeric meaning: the delta method replaces the loss by its second-order
  Taylor polynomial at the mean (derivatives by Richardson-extrapolated central differences, or the
  oracle's own ``grad`` and ``hess``); a fixed covariance holds :math:`q = \mathcal{N}(m, I)`; ρ is the
  number given; a minibatch replaces :math:`\sum_{i=1}^N\ell_i` by :math:`\tfrac{N}{M}\sum_{i\in\mathcal{B}}\ell_i`;
  Gauss–Newton replaces the expected Hessian by the expected sum of the per-example outer
  products :math:`\sum_i\nabla\ell_i\nabla\ell_i^\top`.

Expectations are sums over a rule for :math:`q_t`: Gauss–Hermite nodes for a Gaussian candidate,
the trapezoid rule on a transformed axis (log θ, logit θ) for one or two continuous dimensions,
enumeration on a discrete support.  :math:`\nabla_\lambda` is a complex step: the rule of
:math:`q_t` reweighted to :math:`q_{\lambda_t + i h e_k}` (the same nodes for every direction), so
:math:`\operatorname{Im}\mathbb{E}/h` is the derivative to rounding, and :math:`F = \nabla_\lambda\mu`
the same way.  A Monte-Carlo step is run with several seeds; its standard error enters the
tolerance, beside the rule's error (the rule against one with half its nodes) and the
finite-difference error.

An approximation with no generic numeric meaning (a named rewrite such as Adam's bias
correction, a mixture's responsibility, a relaxation) is not certified here: the certificate says
so, and those requests are certified by their row's textbook counterpart (``blrkit verify``).

>>> from blrkit.derive import derive
>>> c = certify(derive("gamma", approximations=["rho=1/2"]))
>>> c.passed, c.method
(True, 'trapezoid rule on log θ (1 dim)')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: float64 rounding through a step's linear algebra: the emitted and the numeric step each solve a
#: few well-conditioned (cond ≲ 1e3) systems, each losing about cond · 2.2e-16
ROUNDING = 1e-9
#: a rule's error is estimated by the same rule with every other node; the trapezoid and
#: Gauss–Hermite rules converge geometrically here, so the estimate bounds the finer rule's error
#: with this factor to spare
RULE_SAFETY = 10.0
#: z-score of a Monte-Carlo mean: 5 standard errors fail by chance with probability < 1e-6 per entry
Z_MC = 5.0
#: the complex step: Im f(λ + ih) / h is exact to rounding for any h this small
COMPLEX_STEP = 1e-30


#: Errors below this are float64 rounding through a step's linear algebra (their digits change with the order of
#: BLAS's sums, so with its thread count); the generated pages print them as a bound.
ROUNDING_LEVEL = 1e-12


class CertificateError(Exception):
    """A request the certificate cannot compute numerically (not a failed certificate)."""


@dataclass(frozen=True)
class Certificate:
    r"""The outcome of :func:`certify`: how the emitted step was checked and how close it came.

    Attributes
    ----------
    title : str
        The derivation's title.
    method : str
        How the numeric BLR step computed its expectations.
    error : float
        The largest relative error, :math:`\max|e - n| / \max|n|` (e emitted, n numeric), over the outputs'
        natural parameters and the states tried.
    tolerance : float
        The bound ``error`` must meet, and ``reason``: where it comes from.
    numeric, counterpart : tuple of str
        The approximations certified by their numeric meaning, and those left to the row's textbook
        counterpart.
    states : int
        How many random states (and data sets) were tried.
    """

    title: str
    method: str
    error: float
    tolerance: float
    reason: str
    numeric: tuple = ()
    counterpart: tuple = ()
    states: int = 0

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.error) and self.error <= self.tolerance)

    def __bool__(self) -> bool:
        return self.passed

    def error_text(self) -> str:
        """The error as the generated pages print it: one significant digit, or ``< 1e-12`` at rounding level
        (below :data:`ROUNDING_LEVEL` the digits depend on the BLAS's thread count, not on the derivation, and a
        page printed on another machine must not differ).

        >>> Certificate("t", "m", 3.2e-15, 1e-9, "r").error_text(), Certificate("t", "m", 2.4e-8, 1e-7, "r").error_text()
        ('< 1e-12', '2e-08')
        """
        return f"< {ROUNDING_LEVEL:.0e}" if self.error < ROUNDING_LEVEL else f"{self.error:.0e}"

    def text(self) -> str:
        """The certificate as a few lines for a terminal."""
        lines = [f"certificate: {self.title}",
                 f"  method: {self.method}; {self.states} random states",
                 f"  largest relative error {self.error:.2e}, tolerance {self.tolerance:.2e} ({self.reason})",
                 "  approximations certified by their numeric meaning: " + (", ".join(self.numeric) or "none")]
        if self.counterpart:
            lines.append("  left to the row's textbook counterpart (blrkit verify): " + ", ".join(self.counterpart))
        lines.append(f"  {'PASS' if self.passed else 'FAIL'}")
        return "\n".join(lines)

    __str__ = text


# -- the numeric natural gradient ---------------------------------------------------------------

def natural_gradient(T: np.ndarray, f: np.ndarray, w: np.ndarray) -> np.ndarray:
    r""":math:`F(\lambda)^{-1}\nabla_\lambda\mathbb{E}_q[f]` from a rule (nodes' statistics ``T`` (n, K),
    values ``f`` (n,), normalised weights ``w`` (n,) of :math:`q_\lambda`) by complex steps.

    The rule of :math:`q_{\lambda + i h e_k}` is the rule of :math:`q_\lambda` reweighted by
    :math:`e^{i h T_k(\theta)}` (normalised), so :math:`\partial_k\mathbb{E}[f] = \operatorname{Im}\,\mathbb{E}_{\lambda + ihe_k}[f]/h`
    and :math:`F_{jk} = \partial_k\mu_j` with :math:`\mu = \mathbb{E}[T]` likewise.  Centring ``T`` and ``f``
    first changes neither derivative and keeps the sums from cancelling.

    >>> T = np.array([[-1.0], [1.0]]); w = np.array([0.5, 0.5])
    >>> natural_gradient(T, 3 * T[:, 0], w)    # E[3T] = 3μ: ∇_μ = 3
    array([3.])
    """
    Tc = T - w @ T
    fc = f - w @ f
    shift = w[:, None] * np.exp(1j * COMPLEX_STEP * Tc)  # column k: the weights of q_{λ + ihe_k}
    norm = shift.sum(0)
    grad = (fc @ shift / norm).imag / COMPLEX_STEP
    F = (Tc.T @ shift / norm).imag / COMPLEX_STEP  # F[j, k] = ∂μ_j/∂λ_k
    return np.linalg.solve((F + F.T) / 2, grad)


# -- rules for q_t --------------------------------------------------------------------------------

def _hermite(n: int, D: int):
    """Product Gauss–Hermite nodes z (n**D, D) and weights for N(0, I)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    grids = np.meshgrid(*([x] * D), indexing="ij")
    weights = np.meshgrid(*([w] * D), indexing="ij")
    return np.stack([g.ravel() for g in grids], -1), np.prod([g.ravel() for g in weights], axis=0)


#: the axis a continuous support is integrated on: θ = to(u), log |dθ/du|
_AXES = {
    "real": (lambda u: u, lambda u: np.zeros_like(u), "θ"),
    "positive": (np.exp, lambda u: u, "log θ"),
    "unit-interval": (lambda u: 1 / (1 + np.exp(-u)), lambda u: -np.logaddexp(0, u) - np.logaddexp(0, -u), "logit θ"),
    "circle": (lambda u: u, lambda u: np.zeros_like(u), "θ on [−π, π), periodic"),
}


class _Family:
    """A non-Gaussian family turned into numbers: T(θ), log h(θ), its support, standard → λ."""

    def __init__(self, family):
        import sympy as sp

        self.family = family
        th = list(family.theta)
        mods = ["scipy", "numpy"]
        self._T = [sp.lambdify(th, t, mods) for t in family.statistics]
        self._log_h = sp.lambdify(th, family.log_base_measure, mods)
        self.support = family.support
        self._boxes: dict = {}
        self._params = [(p.name, p.unique_symbols, p.positions()) for p in family.standard]
        syms = [s for _, u, _ in self._params for s in u]
        self._to_natural = sp.lambdify(syms, list(family.standard_to_natural), mods)

    def natural(self, standard: dict) -> np.ndarray:
        """λ from standard parameters, without checking their constraints (a step may leave the domain)."""
        vals = []
        for name, _, positions in self._params:
            a = np.asarray(standard[name], float)
            vals += [a[pos] if pos else a for pos in positions]
        return np.array([float(np.real(v)) for v in self._to_natural(*vals)], float)

    def stats(self, theta):
        cols = [np.broadcast_to(np.asarray(t(*theta.T), dtype=float), theta.shape[:1]) for t in self._T]
        return np.stack(cols, -1)

    def log_h(self, theta):
        return np.broadcast_to(np.asarray(self._log_h(*theta.T), dtype=float), theta.shape[:1])

    def rule(self, lam, n: int):
        """Nodes θ (n, dim θ), normalised weights, and the name of the rule, for q_λ."""
        kinds = [k for k, _ in self.support]
        if set(kinds) <= {"binary", "one-hot", "count"}:
            return self._enumerate(lam) + ("enumeration of the support",)
        blocks = []
        for kind, size in self.support:
            if kind == "simplex":
                if size != 3 and size != 2:
                    raise CertificateError(f"a simplex of {size} components has no rule here (2 or 3 components)")
                blocks += ["unit-interval"] * (size - 1)
            elif kind in _AXES:
                blocks += [kind] * size
            else:
                raise CertificateError(f"a {kind} support mixed with continuous ones has no rule here")
        if len(blocks) > 2:
            raise CertificateError(f"{len(blocks)} continuous dimensions: the certificate integrates 1 or 2")
        names = ", ".join(_AXES[b][2] for b in blocks)
        if len(blocks) == 2:  # n per axis in one dimension, about 2n/8 per axis in two
            n = (n - 1) // 4 + 1
        u, logw = self._box(lam, blocks, n)
        theta, logjac = self._theta(u, blocks)
        logq = self.stats(theta) @ lam + self.log_h(theta) + logjac + logw
        keep = np.isfinite(logq)
        keep[keep] = logq[keep] > logq[keep].max() - 700  # weights below e^-700 are zero in float64
        w = np.exp(logq[keep] - logq[keep].max())
        return theta[keep], w / w.sum(), f"trapezoid rule on {names} ({len(blocks)} dim{'s' if len(blocks) > 1 else ''})"

    def _theta(self, u, blocks):
        """θ (n, dim θ) from the integration axes u (n, len(blocks)), and log |Jacobian|."""
        cols, logjac = [], np.zeros(len(u))
        for j, b in enumerate(blocks):
            to, lj, _ = _AXES[b]
            cols.append(to(u[:, j]))
            logjac += lj(u[:, j])
        if self.support[0][0] == "simplex":  # θ₁ = a, θ₂ = (1 − a) b, θ₃ = (1 − a)(1 − b)
            if len(cols) == 1:
                return np.stack([cols[0], 1 - cols[0]], -1), logjac
            a, b = cols
            return np.stack([a, (1 - a) * b, (1 - a) * (1 - b)], -1), logjac + np.log1p(-a)
        return np.stack(cols, -1), logjac

    def _box(self, lam, blocks, n):
        """A uniform grid of n nodes per axis on the box of u where q_λ's density is within e^-60 of its
        largest value (the whole period of a circle: the trapezoid rule of a periodic integrand)."""
        periodic = np.array([b == "circle" for b in blocks])
        key = tuple(lam)
        if key not in self._boxes:
            self._boxes = {key: self._bounds(lam, blocks, periodic)}
        lo, hi = self._boxes[key]
        u = _grid(lo, hi, n, periodic)
        cell = np.prod((hi - lo) / np.where(periodic, n, n - 1))
        return u, np.full(len(u), np.log(cell))

    def _bounds(self, lam, blocks, periodic):
        lo, hi = np.where(periodic, -np.pi, -60.0), np.where(periodic, np.pi, 60.0)
        for _ in range(3):  # zoom in: each pass keeps the cells where the density is not negligible
            u = _grid(lo, hi, 151, periodic)
            theta, logjac = self._theta(u, blocks)
            with np.errstate(all="ignore"):
                logq = self.stats(theta) @ lam + self.log_h(theta) + logjac
            logq = np.where(np.isfinite(logq), logq, -np.inf)
            live = u[logq > logq.max() - 60]
            step = (hi - lo) / 150
            lo = np.where(periodic, lo, np.maximum(lo, live.min(0) - step))
            hi = np.where(periodic, hi, np.minimum(hi, live.max(0) + step))
        return lo, hi

    def _enumerate(self, lam):
        axes = []
        for kind, size in self.support:
            if kind == "binary":
                axes += [np.array([0.0, 1.0])] * size
            elif kind == "count":
                rate = math.exp(min(lam[0], 50.0))
                axes.append(np.arange(0.0, math.ceil(rate + 40 * math.sqrt(rate) + 60)))
            else:  # one-hot: the zero code and the unit vectors
                axes.append(None)
                codes = np.vstack([np.zeros(size), np.eye(size)])
        if any(a is None for a in axes):
            theta = codes
        else:
            theta = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], -1)
        with np.errstate(all="ignore"):
            logq = self.stats(theta) @ lam + self.log_h(theta)
        w = np.exp(logq - logq.max())
        return theta, w / w.sum()


_NUMERIC: dict = {}


def _numeric_family(family) -> _Family:
    """One :class:`_Family` per family object (lambdified once)."""
    if id(family) not in _NUMERIC:
        _NUMERIC[id(family)] = (family, _Family(family))
    return _NUMERIC[id(family)][1]


def _grid(lo, hi, n, periodic):
    axes = [np.linspace(a, b, n, endpoint=not p) for a, b, p in zip(lo, hi, periodic)]
    return np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], -1)


# -- Gaussian candidates, written here by hand --------------------------------------------------

class _Gaussian:
    """q = N(m, S⁻¹) over D components: full (T = θ, θᵢθⱼ for i ≤ j), diagonal (θ, θᵢ²) or held
    covariance N(m, I) (T = θ, log h = −‖θ‖²/2)."""

    def __init__(self, kind: str, D: int):
        self.kind, self.D = kind, D
        self.pairs = [(i, j) for i in range(D) for j in range(i, D)] if kind == "full" else \
            [(i, i) for i in range(D)] if kind == "diagonal" else []

    def natural(self, m, P):
        """λ from the mean m and the precision P (a matrix, a vector of diagonal entries, or None)."""
        if self.kind == "fixed":
            return np.asarray(m, float)
        P = np.diag(P) if self.kind == "diagonal" else P
        quad = [-P[i, j] / (1 if i != j else 2) for i, j in self.pairs]
        return np.concatenate([P @ m, quad])

    def stats(self, theta):
        return np.concatenate([theta] + [theta[:, [i]] * theta[:, [j]] for i, j in self.pairs], axis=1)

    def log_h(self, theta):
        return -0.5 * np.sum(theta**2, -1) if self.kind == "fixed" else np.zeros(len(theta))

    def rule(self, m, P, n):
        z, w = _hermite(n, self.D)
        if self.kind == "fixed":
            return m + z, w
        S = P if self.kind == "full" else np.diag(P)
        L = np.linalg.cholesky(S)
        return m + np.linalg.solve(L.T, z.T).T, w


# -- requests ---------------------------------------------------------------------------------------

@dataclass
class _Problem:
    """One random state: the emitted step's keyword arguments, and the map from its outputs to λ."""

    kwargs: dict
    to_natural: object  # the step's outputs -> λ_{t+1}


def certify(derivation, *, seed: int = 0, states: int = 3, step=None) -> Certificate:
    r"""Certify ``derivation``'s emitted step (or ``step``, a callable of the same signature) against the
    numeric BLR step (see the module docstring).

    Parameters
    ----------
    derivation : Derivation
        From :func:`~blrkit.derive.derive` (it records the request it was derived from).
    seed : int
        Seed of the random states, data and Monte-Carlo draws.
    states : int
        How many random states to try.
    step : callable, optional
        A step to certify in place of the emitted one (a wrong variant, in the tests).

    Returns
    -------
    Certificate

    Raises
    ------
    CertificateError
        A request the certificate cannot compute (no rule for its support, a candidate over latent
        variables).
    """
    request = derivation.extra.get("request")
    if request is None:
        raise CertificateError("derived by a path of its own (EM, SVI for LDA, VMP, mixtures, the Bernoulli "
                               "candidate), with no request to compute numerically: certified by its row's textbook "
                               "counterparts (blrkit verify)")
    from .approximations import DeltaMethod, FixedCovariance, GaussNewton, StepSize, StochasticGradient

    numeric_kinds = (DeltaMethod, FixedCovariance, GaussNewton, StepSize, StochasticGradient)
    numeric = tuple(a.key for a in request["approximations"] if isinstance(a, numeric_kinds))
    counterpart = tuple(a.key for a in request["approximations"] if not isinstance(a, numeric_kinds))
    if request["rule"] != "blr":
        counterpart += (f"rule={request['rule']}",)
    if counterpart:
        return Certificate(derivation.title, "none (left to the counterpart)", math.nan, math.nan,
                           "no generic numeric meaning", numeric, counterpart, 0)
    step = step or derivation.compile()
    with np.errstate(all="ignore"):  # rules reach the edges of a support (log 0): judged by the numbers, not warnings
        return _certify(derivation, request, step, seed, states, numeric)


def _certify(derivation, request, step, seed, states, numeric) -> Certificate:
    rng = np.random.default_rng(seed)
    monte_carlo = any(a.name == "rng" for a in derivation.arguments)
    errs, tols, methods, reasons = [], [], set(), set()
    from .candidates import Gaussian  # candidates imports this module's callers: imported when used

    candidate = request["candidate"]  # what q is, by its type: never by its family key
    for _ in range(states):
        if isinstance(candidate, Gaussian):
            problem, numeric_step, method = _gaussian_problem(derivation, request, rng, candidate.kind)
        else:
            problem, numeric_step, method = _family_problem(derivation, request, rng)
        methods.add(method)
        fine, coarse, fd = numeric_step(problem)
        try:
            emitted, se = _run(step, derivation, problem, monte_carlo, rng)
        except Exception as e:  # noqa: BLE001 -- any error of the emitted step is a failed certificate
            return Certificate(derivation.title, method, math.inf, ROUNDING,
                               f"the emitted step raised {type(e).__name__}: {e}", numeric, (), states)
        scale = max(np.max(np.abs(fine)), 1e-300)
        err = np.max(np.abs(emitted - fine)) / scale
        tol = ROUNDING + (RULE_SAFETY * np.max(np.abs(fine - coarse)) + fd + Z_MC * np.max(se)) / scale
        errs.append(err)
        tols.append(tol)
        reasons.add("rounding 1e-9, 10 × the rule's error (its half-node rule)"
                    + (", the finite-difference error" if np.any(fd) else "")
                    + (", 5 Monte-Carlo standard errors of the emitted step" if monte_carlo else ""))
    i = int(np.argmax(np.array(errs) - np.array(tols)))
    return Certificate(derivation.title, "; ".join(sorted(methods)), float(errs[i]), float(tols[i]),
                       "; ".join(sorted(reasons)), numeric, (), states)


#: Monte-Carlo runs of an emitted step that samples: repeats and draws per run
MC_RUNS, MC_SAMPLES = 8, 4000


def _run(step, derivation, problem, monte_carlo, rng):
    """The emitted step's new natural parameters (averaged over seeded runs if it samples) and their
    standard errors."""
    to_natural = problem.to_natural
    if not monte_carlo:
        return to_natural(step(**problem.kwargs)), 0.0
    runs = []
    for _ in range(MC_RUNS):
        kw = dict(problem.kwargs, n_samples=MC_SAMPLES, rng=np.random.default_rng(rng.integers(2**32)))
        runs.append(to_natural(step(**kw)))
    runs = np.array(runs)
    return runs.mean(0), runs.std(0, ddof=1) / math.sqrt(MC_RUNS)


def _outputs(derivation, out):
    names = [getattr(o, "name", str(o)) for o in derivation.outputs]
    out = out if isinstance(out, tuple) else (out,)
    return {n: np.asarray(v, dtype=float) for n, v in zip(names, out)}


def _rho(request, rng):
    from .approximations import StepSize

    given = next((a.value for a in request["approximations"] if isinstance(a, StepSize)), None)
    return float(given) if given is not None else float(rng.uniform(0.2, 0.9))


# -- Gaussian requests --------------------------------------------------------------------------------

#: problem sizes: parameters D, data N, a minibatch of M of them (stochastic), Gauss–Hermite nodes per dim
D_GAUSS, N_DATA, M_BATCH, N_HERMITE = 2, 6, 3, 40
#: trapezoid nodes on a one-dimensional axis (201 per axis in two dimensions)
N_TRAPEZOID = 801


class _Logistic:
    r"""The certificate's own loss for an oracle request: :math:`\ell(\theta) = \sum_i \log(1 + e^{-y_i x_i^\top\theta})
    + \tfrac14 (x_i^\top\theta)^2/N` (logistic plus a small quadratic, so the Hessian is not a GLM's
    alone), with every oracle an emitted step may call written out."""

    def __init__(self, rng, D, N, M):
        self.X = rng.standard_normal((N, D))
        self.y = rng.choice([-1.0, 1.0], N)
        self.N, self.M = N, M

    def _parts(self, theta, rows):
        X, y = self.X[rows], self.y[rows]
        eta = np.einsum("...d,nd->...n", theta, X)
        s = 1 / (1 + np.exp(y * eta))  # σ(−yη)
        d1 = -y * s + eta / (2 * self.N)
        d2 = s * (1 - s) + 1 / (2 * self.N)
        return X, eta, d1, d2

    def terms(self, theta, rows=slice(None)):
        """ℓ_i(θ), (..., n)."""
        X, eta, _, _ = self._parts(theta, rows)
        return np.logaddexp(0, -self.y[rows] * eta) + eta**2 / (4 * self.N)

    def per_example_grads(self, theta, rows=slice(None)):
        X, _, d1, _ = self._parts(theta, rows)
        return d1[..., None] * X

    def grad(self, theta, rows=slice(None)):
        return self.per_example_grads(theta, rows).sum(-2)

    def hess(self, theta, rows=slice(None)):
        X, _, _, d2 = self._parts(theta, rows)
        return np.einsum("...n,nd,ne->...de", d2, X, X)

    def oracles(self):
        batch = slice(0, self.M)
        return {
            "grad": self.grad, "hess": self.hess,
            "hess_diag": lambda t: np.diagonal(self.hess(t), axis1=-2, axis2=-1),
            "grad_batch": lambda t: self.grad(t, batch),
            "grad_mean": lambda t: self.grad(t, batch) / self.M,
            "grad_sums": lambda t: (self.grad(t, batch), (self.per_example_grads(t, batch) ** 2).sum(-2)),
        }


def _gaussian_problem(derivation, request, rng, kind):
    from .approximations import DeltaMethod, FixedCovariance, GaussNewton, StochasticGradient
    from .losses import ComponentLoss, GLMLoss, OracleLoss

    approx = request["approximations"]
    has = lambda kind: any(isinstance(a, kind) for a in approx)  # noqa: E731
    loss = request["loss"]
    if has(FixedCovariance):
        kind = "fixed"
    stochastic = has(StochasticGradient)
    names = {a.name for a in derivation.arguments}
    kwargs = {}
    if isinstance(loss, OracleLoss):
        D = D_GAUSS
        model = _Logistic(rng, D, N_DATA, M_BATCH)
        rows = slice(0, M_BATCH) if stochastic else slice(None)
        scale = N_DATA / M_BATCH if stochastic else 1.0
        terms = lambda t: scale * model.terms(t, rows)  # noqa: E731
        full_terms = model.terms  # the Hessian oracle is the whole loss's: the minibatch rewrites gradients
        grads = lambda t: model.per_example_grads(t, rows)  # noqa: E731
        kwargs.update({k: v for k, v in model.oracles().items() if k in names})
        if "n_data" in names:
            kwargs["n_data"] = N_DATA
        if "n_batch" in names:
            kwargs["n_batch"] = M_BATCH
    elif isinstance(loss, GLMLoss):
        D = D_GAUSS
        f, f1 = _glm_numeric(loss)
        n_rows = M_BATCH if stochastic else N_DATA
        # labels in the loss's convention ({0, 1} for a binary loss, which its step checks); ±1 for any other
        X, y = rng.standard_normal((n_rows, D)), rng.choice(np.array(loss.labels or (-1, 1), dtype=float), n_rows)
        scale = N_DATA / M_BATCH if stochastic else 1.0
        terms = lambda t: scale * f(np.einsum("...d,nd->...n", t, X), y)  # noqa: E731
        full_terms = None  # a GLM's Hessian under a minibatch is refused by the engine
        grads = lambda t: f1(np.einsum("...d,nd->...n", t, X), y)[..., None] * X  # noqa: E731
        kwargs.update(X=X, y=y)
        if "n_data" in names:
            kwargs["n_data"] = N_DATA
    elif isinstance(loss, ComponentLoss):
        import sympy as sp

        D = loss.dim
        fn = sp.lambdify(list(loss.theta), loss.expr, ["scipy", "numpy"])
        terms = lambda t: np.broadcast_to(np.asarray(fn(*np.moveaxis(t, -1, 0)), float), t.shape[:-1])[..., None]  # noqa: E731
        grads = full_terms = None
        if stochastic:
            raise CertificateError("a loss in θ has no data to take a minibatch of")
    else:
        raise CertificateError("a loss in matrix symbols (ridge, Kalman) has no numeric form here: certified by "
                               "its row's textbook counterparts (blrkit verify)")
    prior = request["prior"]
    alpha = float(rng.uniform(0.5, 2.0)) if prior is not None and getattr(prior, "isotropic", None) is not None else 0.0
    if prior is not None and getattr(prior, "isotropic", None) is None:
        raise CertificateError("a Gaussian prior other than the isotropic one has no numeric form here")
    if "alpha" in names:
        kwargs["alpha"] = alpha
    fam = _Gaussian(kind, D)
    m = rng.normal(0.0, 0.5, D)
    if kind == "full":
        B = rng.normal(0.0, 0.6, (D, D))
        P = B @ B.T + 0.7 * np.eye(D)
        kwargs["S"] = P
    elif kind == "diagonal":
        P = rng.uniform(0.5, 2.0, D)
        kwargs["s"] = P
    else:
        P = None
    if "S" not in names:
        kwargs.pop("S", None)
    if "s" not in names:
        kwargs.pop("s", None)
    kwargs["m"] = m
    rho = _rho(request, rng)
    if "rho" in names:
        kwargs["rho"] = rho
    lam = fam.natural(m, P)

    def to_natural(out):
        o = _outputs(derivation, out)
        m_new = o["m_new"]
        if kind == "fixed":
            return m_new
        P_new = o["S_new"] if kind == "full" else o["s_new"]
        return fam.natural(m_new, P_new)

    delta, gn = has(DeltaMethod), has(GaussNewton)
    fd_error = [0.0]

    def loss_value(t):
        return terms(t).sum(-1)

    if delta:  # the second-order Taylor polynomial of ℓ at m_t
        if isinstance(loss, OracleLoss):
            g0, H0, err = scale * model.grad(m, rows), model.hess(m), 0.0
        else:
            g0, H0, err = _taylor(loss_value, m)
        if gn:
            G = grads(m[None])[0]
            H0 = scale * G.T @ G
            if kind == "diagonal":
                H0 = np.diag(np.diag(H0))
        fd_error[0] = err
        l0 = loss_value(m[None])[0]
        base = lambda t: l0 + (t - m) @ g0 + 0.5 * np.einsum("nd,de,ne->n", t - m, H0, t - m)  # noqa: E731
    else:
        base = loss_value

    def rest(t):  # −log p₀ + log h at the nodes (up to a constant)
        return 0.5 * alpha * np.sum(t**2, -1) + fam.log_h(t)

    def numeric_step(problem):
        out = []
        for n in (N_HERMITE, N_HERMITE // 2):
            theta, w = fam.rule(m, P, n)
            T = fam.stats(theta)
            ng = natural_gradient(T, base(theta), w)
            if gn and not delta:  # E[H] of the loss → E[Σ_i ∇ℓ_i ∇ℓ_iᵀ] (diagonal: its diagonal)
                ng = _join(_split(ng, m, fam)[0], _gauss_newton(theta, w, grads, scale, fam), m, fam)
            elif stochastic and not delta and kind != "fixed" and full_terms is not None:
                # the minibatch estimates the gradient; the Hessian stays the whole loss's
                full = natural_gradient(T, full_terms(theta).sum(-1), w)
                ng = _join(_split(ng, m, fam)[0], _split(full, m, fam)[1], m, fam)
            ng = ng + natural_gradient(T, rest(theta), w)
            out.append((1 - rho) * lam - rho * ng)
        return out[0], out[1], fd_error[0]

    method = f"Gauss–Hermite quadrature, {N_HERMITE}^{D} nodes"
    return _Problem(kwargs, to_natural), numeric_step, method


def _split(ng, m, fam):
    r"""(E[g], E[H]) from a Gaussian natural gradient of E_q[ℓ]: in the coordinates (θᵢ; θᵢθⱼ, i ≤ j) it is
    (E[g] − E[H]m; ½E[H]ᵢᵢ, E[H]ᵢⱼ) (a diagonal candidate: its diagonal)."""
    D = fam.D
    E_H = np.zeros((D, D))
    for k, (i, j) in enumerate(fam.pairs):
        E_H[i, j] = E_H[j, i] = ng[D + k] * (2 if i == j else 1)
    return ng[:D] + E_H @ m, E_H


def _join(E_g, E_H, m, fam):
    """The inverse of :func:`_split`."""
    return np.concatenate([E_g - E_H @ m, [E_H[i, j] * (0.5 if i == j else 1) for i, j in fam.pairs]])


def _gauss_newton(theta, w, grads, scale, fam):
    r"""E_q[Σ_i ∇ℓ_i∇ℓ_iᵀ] (its diagonal for a diagonal candidate), times N/M under a minibatch."""
    G = grads(theta)  # (n, N, D)
    E_gn = scale * np.einsum("n,nid,nie->de", w, G, G)
    return np.diag(np.diag(E_gn)) if fam.kind == "diagonal" else E_gn


def _taylor(fn, m, h=1e-3):
    """∇ and ∇² of ``fn`` at m by central differences, Richardson-extrapolated (steps h and 2h), and the
    size of the extrapolation's correction as the error estimate."""
    D = len(m)

    def derivs(step):
        E = np.eye(D) * step
        pts = [m]
        for i in range(D):
            pts += [m + E[i], m - E[i]]
            for j in range(i + 1, D):
                pts += [m + E[i] + E[j], m + E[i] - E[j], m - E[i] + E[j], m - E[i] - E[j]]
        vals = iter(fn(np.array(pts)))
        f0 = next(vals)
        g, H = np.zeros(D), np.zeros((D, D))
        for i in range(D):
            fp, fm = next(vals), next(vals)
            g[i] = (fp - fm) / (2 * step)
            H[i, i] = (fp - 2 * f0 + fm) / step**2
            for j in range(i + 1, D):
                pp, pm, mp, mm = next(vals), next(vals), next(vals), next(vals)
                H[i, j] = H[j, i] = (pp - pm - mp + mm) / (4 * step**2)
        return g, H

    g1, H1 = derivs(h)
    g2, H2 = derivs(2 * h)
    g, H = (4 * g1 - g2) / 3, (4 * H1 - H2) / 3
    err = max(np.max(np.abs(g - g1)), np.max(np.abs(H - H1)) * (1 + np.max(np.abs(m))))
    return g, H, err


def _glm_numeric(loss):
    """f(η, y) and ∂f/∂η as NumPy functions: f from the loss's expression, f' by a complex step where f is
    analytic, else by central differences."""
    import sympy as sp

    from .losses import ETA, Y_OBS

    fn = sp.lambdify([ETA, Y_OBS], loss.f, ["scipy", "numpy"])

    def f(eta, y):
        return np.asarray(fn(eta, y), float)

    def f1(eta, y, h=1e-5):
        return ((f(eta + h, y) - f(eta - h, y)) * 8 - (f(eta + 2 * h, y) - f(eta - 2 * h, y))) / (12 * h)

    return f, f1


# -- other families --------------------------------------------------------------------------------

def _family_problem(derivation, request, rng):
    import sympy as sp

    from .approximations import StochasticGradient
    from .conjugate import Y

    family = request["family"]
    num = _numeric_family(family)
    lik = request["loss"]
    names = {a.name for a in derivation.arguments}
    stochastic = any(isinstance(a, StochasticGradient) for a in request["approximations"])
    standard = family.example(rng)
    prior_std = family.example(rng)
    kwargs = {}
    for p in family.standard:
        if p.name in names:
            kwargs[p.name] = standard[p.name]
        if f"{p.name}_0" in names:
            kwargs[f"{p.name}_0"] = prior_std[p.name]
    lam, lam0 = num.natural(standard), num.natural(prior_std)
    rho = _rho(request, rng)
    if "rho" in names:
        kwargs["rho"] = rho
    # the loss as a numeric function of θ and one datum
    theta_syms = list(family.theta)
    data_syms = [s for s, _ in lik.data]
    data_vals = [float(rng.uniform(0.5, 2.0)) for _ in data_syms]
    for s, v in zip(data_syms, data_vals):
        kwargs[s.name] = v
    expr = lik.expr
    if lik.data_free:
        ys = []
    elif lik.one_hot:
        ys = [sp.Symbol(f"y_{k}") for k in range(len(theta_syms))]
        expr = expr.replace(lambda x: isinstance(x, sp.Indexed) and x.base == Y,
                            lambda x: ys[int(x.indices[1])])
    else:
        ys = [sp.Symbol("y_datum")]
    if not lik.data_free and not lik.one_hot:
        expr = expr.replace(lambda x: isinstance(x, sp.Indexed) and x.base == Y, lambda x: ys[0])
    fn = sp.lambdify(theta_syms + ys + data_syms, expr, ["scipy", "numpy"])
    n_rows = M_BATCH if stochastic else N_DATA
    data = None
    if not lik.data_free:
        data = _data_for(fn, lik.one_hot, len(theta_syms), n_rows, num, lam, data_vals, rng)
        kwargs["y"] = data
        if "n_data" in names:
            kwargs["n_data"] = N_DATA
    scale = N_DATA / M_BATCH if stochastic else 1.0

    def loss_value(theta):
        cols = list(theta.T)
        if lik.data_free:
            return np.broadcast_to(np.asarray(fn(*cols, *data_vals), float), theta.shape[:1])
        total = np.zeros(len(theta))
        for row in data:
            ycols = list(np.atleast_1d(row))
            total = total + np.asarray(fn(*cols, *ycols, *data_vals), float)
        return scale * total

    prior_in_family = request["prior"] is None

    def value(theta):  # ℓ̄ + log h: −log p₀ + log h = −λ₀ᵀT(θ) + const with the prior in the family
        with np.errstate(all="ignore"):
            v = loss_value(theta)
            if prior_in_family:
                return v - num.stats(theta) @ lam0
            return v + num.log_h(theta)

    def to_natural(out):
        o = _outputs(derivation, out)
        return num.natural({p.name: o[f"{p.name}_new"] for p in family.standard})

    def numeric_step(problem):
        out = []
        for n in (N_TRAPEZOID, N_TRAPEZOID // 2 + 1):
            theta, w, _ = num.rule(lam, n)
            f = value(theta)
            ok = np.isfinite(f) & (w > 0)
            ng = natural_gradient(num.stats(theta[ok]), f[ok], w[ok] / w[ok].sum())
            out.append((1 - rho) * lam - rho * ng)
        return out[0], out[1], 0.0

    name = num.rule(lam, 5)[2]
    return _Problem(kwargs, to_natural), numeric_step, name


def _data_for(fn, one_hot, K, n, num, lam, data_vals, rng):
    """Data where the loss is finite on q_t's support: binary, counts, positive reals, reals (one-hot
    rows for a one-hot likelihood)."""
    if one_hot:
        return np.eye(K)[rng.integers(0, K, n)]
    theta, w, _ = num.rule(lam, 41)
    theta = theta[w > 1e-8 * w.max()]
    for make in (lambda: rng.integers(0, 2, n).astype(float), lambda: rng.poisson(1.5, n).astype(float),
                 lambda: rng.uniform(0.5, 2.0, n),
                 lambda: rng.normal(0.0, 1.0, n)):
        y = make()
        with np.errstate(all="ignore"):
            ok = all(np.all(np.isfinite(np.asarray(fn(*theta.T, v, *data_vals), float))) for v in y)
        if ok:
            return y
    raise CertificateError("no data found on which the loss is finite (counts, positive or real numbers)")
