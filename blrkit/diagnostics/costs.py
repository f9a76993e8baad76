r"""What each approximation costs: a derived BLR step next to the exact one, and its fixed point next to the
exact posterior.

A derivation of :func:`blrkit.derive.derive` with a Gaussian candidate is a step
:math:`\lambda_{t+1} = \lambda_t - \rho\,\tilde\nabla_\lambda`, and its approximations change only the
natural gradient :math:`\tilde\nabla`: for :math:`q = \mathcal N(m, S^{-1})` it is made of an expected gradient
:math:`\hat g \approx \mathbb E_q[\nabla\bar\ell]` and an expected Hessian :math:`\hat H \approx
\mathbb E_q[\nabla^2\bar\ell]` (Khan & Rue 2023, Sec. 1.3), read back from one call of the compiled step,

.. math::

    \hat H = \frac{S_{t+1} - (1-\rho)S_t}{\rho}, \qquad \hat g = \frac{S_{t+1}(m_t - m_{t+1})}{\rho},

and :func:`natural_gradients` sets them beside the exact expectations by quadrature. Run to its fixed
point, each step gives a Gaussian; :func:`approximation_costs` measures it against the exact posterior
of a problem with D ≤ 2 (moments, KL in both directions, predictive error) and against the exact
Gaussian variational posterior, the best any Gaussian candidate can do in :math:`\mathrm{KL}(q\|p)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blrkit._validation import check_count, check_flag, check_instance, check_scalar
from blrkit.algorithms._common import check_rng
from blrkit.diagnostics.problem import Problem, check_problem, check_state
from blrkit.diagnostics.quadrature import (
    ExactPosterior,
    check_order,
    exact_posterior,
    gaussian_expectation,
    gaussian_rule,
    gaussian_vi,
)

__all__ = ["ApproximationCosts", "FixedPoint", "GradientRow", "NaturalGradients", "approximation_costs",
           "natural_gradients"]

#: ρ at which the natural gradient is read back from a step that takes ρ: the direction of the step as
#: ρ → 0 (the plain BLR is linear in ρ; the improved BLR's second-order term leaves an O(ρ) difference)
RHO_PROBE = 1e-6


def _derivation(d):
    """A Derivation from a Derivation, a Recipe or a recipe name."""
    from blrkit.derive import RECIPES, Derivation, Recipe

    if isinstance(d, str):
        if d not in RECIPES:
            raise ValueError(f"unknown recipe {d!r}; known: {', '.join(RECIPES)}")
        d = RECIPES[d]
    if isinstance(d, Recipe):
        _check_family(d.title, d.family)    # declared by the recipe: refused before a derivation of seconds
        return d.derive()
    if isinstance(d, Derivation):
        return d
    raise TypeError(f"derivation must be a Derivation, a Recipe or a recipe name, got {type(d).__name__}")


def _check_family(title: str, family: str) -> str:
    """The kind of a Gaussian candidate family, or ``ValueError`` saying which family and why it is not read."""
    # the candidates whose natural gradient is integrated here, from their one home (imported here, not at the
    # top: importing blrkit.diagnostics, like blrkit.algorithms, never imports SymPy)
    from blrkit.derive.candidates import GAUSSIAN_KINDS

    kind = GAUSSIAN_KINDS.get(family)
    if kind is None:
        raise ValueError(f"{title!r} has a {family} candidate: the diagnostics integrate only the candidate families "
                         f"{', '.join(GAUSSIAN_KINDS)} (a Gaussian q = N(m, S⁻¹) over θ, whose natural gradient is "
                         "E_q[∇ℓ̄] and E_q[∇²ℓ̄]), not a candidate of other parameters or sufficient statistics")
    return kind


@dataclass(frozen=True)
class _Step:
    """A compiled Gaussian BLR step, called with a problem's callables and data by argument name."""

    title: str
    kind: str
    fn: object
    arguments: tuple
    outputs: tuple
    rho: float | None        # the step's own ρ (a StepSize approximation) if it takes none

    @classmethod
    def of(cls, derivation, problem: Problem) -> "_Step":
        from blrkit.derive import StepSize

        d = _derivation(derivation)
        kind = _check_family(d.title, d.family)
        args = tuple(a.name for a in d.arguments)
        unknown = [a for a in args if a not in _SUPPLIED and a not in problem.data]
        if unknown:
            raise ValueError(f"the step of {d.title!r} takes {', '.join(unknown)}, which the problem {problem.name!r} "
                             f"does not give (diagnostics supply {', '.join(sorted(_SUPPLIED))} and the problem's data "
                             f"{', '.join(problem.data) or '(none)'})")
        if "grad_sums" in args and problem.grad_terms is None:
            raise ValueError(f"the step of {d.title!r} squares per-example gradients (Gauss–Newton): give the problem "
                             f"{problem.name!r} its grad_terms")
        fixed = [float(a.value) for a in d.approximations if isinstance(a, StepSize)]
        rho = None if "rho" in args else (fixed[-1] if fixed else 1.0)
        return cls(d.title, kind, d.compile(), args, tuple(str(o) for o in d.outputs), rho)

    def __call__(self, problem: Problem, m, S, rho, *, n_samples: int, rng):
        """One step from N(m, S⁻¹): ``(m_new, S_new)``, S_new a full matrix (I for a fixed covariance)."""
        D = problem.dim
        values = {"m": m, "S": S, "s": np.diag(S).copy(), "rho": rho, "n_samples": n_samples, "rng": rng}
        for what in ("grad", "hess", "grad_terms"):
            values[what] = _batched(problem, what)
        values["hess_diag"] = lambda t: np.diagonal(values["hess"](t), axis1=-2, axis2=-1)
        if "grad_sums" in self.arguments or "n_data" in self.arguments:
            # the full batch: M = N terms (one term, the whole ℓ̄, for a problem without per-example gradients)
            n_data = 1 if problem.grad_terms is None else problem.evaluate("grad_terms", m[None]).shape[1]
            values.update(n_data=n_data, n_batch=n_data, grad_batch=values["grad"])

            def grad_sums(t):
                g = values["grad_terms"](t)
                return g.sum(-2), (g * g).sum(-2)
            values["grad_sums"] = grad_sums
        values.update(problem.data)
        try:
            result = self.fn(**{a: values[a] for a in self.arguments})
        except np.linalg.LinAlgError:
            raise                                   # a singular precision: the callers say where
        except (ValueError, TypeError) as e:
            # the step's own checks refused the problem's data (a loss of other labels, another likelihood), or the
            # problem's callables failed: say which step on which problem, and why
            raise ValueError(f"the step of {self.title!r} on the problem {problem.name!r} failed: {e}") from None
        out = dict(zip(self.outputs, (result,) if len(self.outputs) == 1 else result))
        m_new = np.asarray(out["m_new"], dtype=float)
        if self.kind == "fixed":
            S_new = np.eye(D)
        elif self.kind == "diagonal":
            S_new = np.diag(np.asarray(out["s_new"], dtype=float))
        else:
            S_new = np.asarray(out["S_new"], dtype=float)
        if not (np.all(np.isfinite(m_new)) and np.all(np.isfinite(S_new))):
            raise FloatingPointError("the step returned NaN or inf")
        return m_new, S_new


#: arguments of a derived Gaussian step the diagnostics supply from the state and the problem
_SUPPLIED = frozenset({"m", "S", "s", "rho", "grad", "hess", "hess_diag", "grad_sums", "grad_batch", "n_data",
                       "n_batch", "n_samples", "rng"})


def _batched(problem: Problem, what: str):
    """The problem's ``what`` on θ ``(*lead, D)``, checked (see :meth:`Problem.evaluate`)."""
    def fn(theta):
        theta = np.asarray(theta, dtype=float)
        lead = theta.shape[:-1]
        out = problem.evaluate(what, theta.reshape(-1, problem.dim))
        return out.reshape(lead + out.shape[1:])
    return fn


def _rel(a, b) -> float:
    """‖a − b‖_F / ‖b‖_F."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _step_error(g_hat, g, S) -> float:
    r"""How far the mean step :math:`S^{-1}\hat g` lies from :math:`S^{-1}\mathbb E_q[\nabla\bar\ell]`, in standard
    deviations of q: :math:`\sqrt{(\hat g - g)^\top S^{-1}(\hat g - g)}` (meaningful where the exact gradient
    vanishes, at the variational fixed point)."""
    r = g_hat - g
    return float(np.sqrt(r @ np.linalg.solve(S, r)))


def _table(header, rows) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _html(header, rows) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _vec(a) -> str:
    return "[" + ", ".join(f"{x:.4g}" for x in np.ravel(a)) + "]"


# -- (a) the natural gradient at one state ----------------------------------------------------------


@dataclass(frozen=True)
class GradientRow:
    r"""One step's natural gradient at the state: :math:`\hat g` ``(D,)``, :math:`\hat H` ``(D, D)`` (``None`` for a
    fixed covariance); ``grad_error`` the distance of its mean step from the exact one in sd of q (see
    :func:`natural_gradients`), ``hess_error`` :math:`\|\hat H - \mathbb E_q[\nabla^2\bar\ell]\|_F /
    \|\mathbb E_q[\nabla^2\bar\ell]\|_F`."""

    title: str
    kind: str
    grad: np.ndarray
    hess: np.ndarray | None
    grad_error: float
    hess_error: float | None


@dataclass(frozen=True)
class NaturalGradients:
    r"""The exact natural gradient at :math:`q = \mathcal N(m, S^{-1})` and each step's approximation of it.

    ``exact_grad`` :math:`\mathbb E_q[\nabla\bar\ell]` and ``exact_hess`` :math:`\mathbb E_q[\nabla^2\bar\ell]` by
    ``method``; ``rows`` one :class:`GradientRow` per derivation (a diagonal candidate is compared with the
    diagonal of the exact Hessian, a fixed covariance with q = N(m, I) and no Hessian).
    """

    problem: str
    mean: np.ndarray
    precision: np.ndarray
    exact_grad: np.ndarray
    exact_hess: np.ndarray
    method: str
    rows: tuple

    HEADER = ("step", "ĝ ≈ E_q[∇ℓ̄]", "mean-step error (sd_q)", "diag Ĥ ≈ E_q[∇²ℓ̄]", "rel. error Ĥ")

    def _rows(self):
        out = [["exact (" + self.method + ")", _vec(self.exact_grad), "0", _vec(np.diag(self.exact_hess)), "0"]]
        for r in self.rows:
            out.append([r.title, _vec(r.grad), f"{r.grad_error:.2e}",
                        "– (S = I)" if r.hess is None else _vec(np.diag(r.hess)),
                        "–" if r.hess_error is None else f"{r.hess_error:.2e}"])
        return out

    def markdown(self) -> str:
        return _table(self.HEADER, self._rows())

    def __str__(self) -> str:
        return (f"Natural gradients of {self.problem} at m = {_vec(self.mean)}\n" + self.markdown())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<p>Natural gradients of {self.problem} at m = {_vec(self.mean)}</p>" + _html(self.HEADER, self._rows())

    def plot(self, ax=None):
        """Bars of each step's errors (a log axis when they span more than two decades); returns the axes."""
        import matplotlib.pyplot as plt

        ax = _axes(ax) or plt.subplots(figsize=(7, 4))[1]
        x = np.arange(len(self.rows))
        g = np.array([r.grad_error for r in self.rows])
        h = np.array([np.nan if r.hess_error is None else r.hess_error for r in self.rows])
        ax.bar(x - 0.2, g, 0.4, label=r"mean-step error (sd of $q$)")
        ax.bar(x + 0.2, np.nan_to_num(h), 0.4, label=r"relative error of $\hat H$")
        top = np.nanmax(np.r_[g, h])
        small = np.r_[g, h][np.r_[g, h] > 0]
        if small.size and top / small.min() > 100:      # errors over decades: a log axis
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, 1.35 * top if top > 0 else 1.0)
        ax.set_xticks(x, [r.title for r in self.rows], rotation=20, ha="right")
        ax.set_ylabel("error against the exact expectations")
        ax.set_xlabel("derived step")
        ax.legend(loc="upper left")
        return ax


def natural_gradients(problem: Problem, derivations, m, S=None, *, n_samples: int = 16, rng=0,
                      order: int | None = None) -> NaturalGradients:
    r"""The exact natural gradient at :math:`q = \mathcal N(m, S^{-1})` next to each derived step's.

    Parameters
    ----------
    problem : Problem
    derivations : Derivation, Recipe, str, or a sequence of them
        Gaussian candidates (full, diagonal, fixed covariance).
    m : (D,)
        The mean.
    S : (D, D), optional
        The precision (default I).
    n_samples : int
        Monte-Carlo samples of a step without the delta method.
    rng : int or numpy.random.Generator
        Its seed; every step sees the same stream.
    order : int, optional
        Gauss–Hermite points per axis (see :func:`~blrkit.diagnostics.quadrature.gaussian_rule`).

    Returns
    -------
    NaturalGradients

    Examples
    --------
    The delta method takes the gradient at the mean; the exact expectation differs on a Poisson GLM:

    >>> from blrkit.diagnostics import glm_problem
    >>> p = glm_problem([[1.0], [2.0]], [0, 3], likelihood="poisson", alpha=1.0)
    >>> ng = natural_gradients(p, ["newton", "variational_newton"], [0.5], [[4.0]])
    >>> ng.rows[0].grad_error > 0.1, ng.rows[1].hess is not None
    (True, True)
    """
    check_problem(problem)
    m, S = check_state(problem, m, S)
    n_samples, order = check_count(n_samples, "n_samples"), check_order(order)
    check_rng(rng)
    if isinstance(derivations, (str,)) or not isinstance(derivations, (list, tuple)):
        derivations = [derivations]
    steps = [_Step.of(d, problem) for d in derivations]
    nodes, w, method = gaussian_rule(m, S, order=order)
    Eg = w @ problem.evaluate("grad", nodes)
    EH = np.tensordot(w, problem.evaluate("hess", nodes), axes=1)
    rows = []
    for step in steps:
        Sq = np.eye(problem.dim) if step.kind == "fixed" else (np.diag(np.diag(S)) if step.kind == "diagonal" else S)
        rho = RHO_PROBE if step.rho is None else step.rho
        try:
            m_new, S_new = step(problem, m, Sq, rho, n_samples=n_samples, rng=np.random.default_rng(rng))
        except (np.linalg.LinAlgError, FloatingPointError) as e:
            raise ValueError(f"the step of {step.title!r} is undefined at this state ({e}): its precision "
                             "update is singular or not finite there") from None
        # λ_{t+1} = λ_t − ρ∇̃: Ĥ = (S_{t+1} − (1−ρ)S_t)/ρ and ĝ = S_{t+1}(m_t − m_{t+1})/ρ
        g_hat = S_new @ (m - m_new) / rho
        if step.kind == "fixed":
            g_ex = gaussian_expectation(problem, "grad", m, Sq, order=order)
            rows.append(GradientRow(step.title, step.kind, g_hat, None, _step_error(g_hat, g_ex, Sq), None))
            continue
        H_hat = (S_new - (1.0 - rho) * Sq) / rho
        if step.kind == "diagonal":
            g_ex = gaussian_expectation(problem, "grad", m, Sq, order=order)
            H_ex = np.diag(np.diag(gaussian_expectation(problem, "hess", m, Sq, order=order)))
        else:
            g_ex, H_ex = Eg, EH
        rows.append(GradientRow(step.title, step.kind, g_hat, H_hat, _step_error(g_hat, g_ex, Sq), _rel(H_hat, H_ex)))
    return NaturalGradients(problem.name, m, S, Eg, EH, method, tuple(rows))


# -- (b) fixed points against the exact posterior ------------------------------------------------------


@dataclass(frozen=True)
class FixedPoint:
    r"""One approximation's Gaussian :math:`q = \mathcal N(m, S^{-1})` at its fixed point, against the exact posterior.

    ``mean_error``: :math:`\max_j |m_j - \mathbb E_p[\theta_j]| / \mathrm{sd}_p(\theta_j)`; ``sd_ratio``:
    :math:`\mathrm{sd}_q(\theta_j)/\mathrm{sd}_p(\theta_j)` per coordinate; ``kl_qp`` :math:`\mathrm{KL}(q\|p)`,
    ``kl_pq`` :math:`\mathrm{KL}(p\|q)`; ``predictive_error``: :math:`\max_k |\mathbb E_q[f_k] - \mathbb E_p[f_k]|`
    of the problem's ``predict`` (``None`` without one); ``status``: converged after how many steps, or
    the spread of the last Monte-Carlo iterates; ``mc_spread``: that spread, the largest sd of the averaged
    iterates' means in sd of q (``None`` for a deterministic step); ``None`` metrics and the reason in
    ``status`` if the step failed.
    """

    title: str
    mean: np.ndarray | None
    precision: np.ndarray | None
    status: str
    mean_error: float | None = None
    sd_ratio: np.ndarray | None = None
    kl_qp: float | None = None
    kl_pq: float | None = None
    predictive_error: float | None = None
    mc_spread: float | None = None

    @property
    def covariance(self) -> np.ndarray:
        return np.linalg.solve(self.precision, np.eye(len(self.precision)))


@dataclass(frozen=True)
class ApproximationCosts:
    """Fixed points of several approximations against the exact posterior of one problem (a table and a plot)."""

    problem: str
    posterior: ExactPosterior
    rows: tuple

    HEADER = ("approximation", "mean error (sd_p)", "sd_q / sd_p", "KL(q‖p)", "KL(p‖q)", "predictive error",
              "status")

    def row(self, title: str) -> FixedPoint:
        """The row called ``title``."""
        if not isinstance(title, str):
            raise TypeError(f"title must be a row's title (a str), got {type(title).__name__}")
        for r in self.rows:
            if r.title == title:
                return r
        raise ValueError(f"title must name a row, got {title!r}; rows: {[r.title for r in self.rows]}")

    def _rows(self):
        def f(x):
            return "–" if x is None else f"{x:.3g}"
        return [[r.title, f(r.mean_error), "–" if r.sd_ratio is None else _vec(r.sd_ratio), f(r.kl_qp), f(r.kl_pq),
                 f(r.predictive_error), r.status] for r in self.rows]

    def markdown(self) -> str:
        return _table(self.HEADER, self._rows())

    def __str__(self) -> str:
        return f"What each approximation costs on {self.problem}\n" + self.markdown()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<p>What each approximation costs on {self.problem}</p>" + _html(self.HEADER, self._rows())

    def plot(self, ax=None, *, rows=None):
        """The exact posterior (a density for D = 1, contours for D = 2) and each fixed point (its density, or
        its 2-sd ellipse); ``rows`` picks titles. Returns the axes."""
        import matplotlib.pyplot as plt

        ax = _axes(ax) or plt.subplots(figsize=(6, 4.5))[1]
        if rows is not None and (isinstance(rows, str) or not isinstance(rows, (list, tuple))
                                 or not all(isinstance(t, str) for t in rows)):
            raise TypeError(f"rows must be None or a list of row titles, got {rows!r:.60}")
        post = self.posterior
        chosen = [r for r in self.rows if r.mean is not None and (rows is None or r.title in rows)]
        if post.nodes.shape[1] == 1:
            order = np.argsort(post.nodes[:, 0])
            x = post.nodes[order, 0]
            ax.plot(x, np.exp(post.log_density[order]), "k", lw=2.5, label="exact posterior")
            for r in chosen:
                sd = 1.0 / np.sqrt(r.precision[0, 0])
                ax.plot(x, np.exp(-0.5 * ((x - r.mean[0]) / sd) ** 2) / (sd * np.sqrt(2 * np.pi)), label=r.title)
            ax.set_xlabel(r"$\theta$")
            ax.set_ylabel("density")
            lo, hi = _window(post)
            ax.set_xlim(lo[0], hi[0])
        else:
            K = post.n_nodes
            X, Y = (post.nodes[:, j].reshape(K, K) for j in (0, 1))
            Z = np.exp(post.log_density.reshape(K, K))
            handles = []
            t = np.linspace(0, 2 * np.pi, 200)
            for r in chosen:
                L = np.linalg.cholesky(r.covariance)
                e = r.mean + 2.0 * (L @ np.stack([np.cos(t), np.sin(t)])).T
                handles += ax.plot(e[:, 0], e[:, 1], lw=1.8, label=f"{r.title} (2 sd)")
            # on top: a Gaussian's 1- and 2-sd contours are at e^{-1/2} and e^{-2} of its maximum density
            ax.contour(X, Y, Z, levels=np.exp(-0.5 * np.array([4.0, 1.0])) * Z.max(), colors="k",
                       linestyles="--", linewidths=2.0, zorder=3)
            handles.insert(0, plt.Line2D([], [], color="k", ls="--", lw=2.0,
                                         label=r"exact posterior (density $e^{-1/2}$, $e^{-2}$ of its peak)"))
            lo, hi = _window(post)
            ax.set_xlim(lo[0], hi[0])
            ax.set_ylim(lo[1], hi[1])
            ax.set_xlabel(r"$\theta_1$")
            ax.set_ylabel(r"$\theta_2$")
            ax.legend(handles=handles, fontsize=11, framealpha=0.85)
            return ax
        ax.legend()
        return ax


def _axes(ax):
    """``None`` or a Matplotlib ``Axes`` to draw on, else ``TypeError`` naming ``ax``."""
    from matplotlib.axes import Axes

    return None if ax is None else check_instance(ax, "ax", Axes, "a matplotlib Axes or None")


def _window(post: ExactPosterior):
    """Mean ± 4.5 sd of the exact posterior: where its mass is."""
    sd = np.sqrt(np.diag(post.covariance))
    return post.mean - 4.5 * sd, post.mean + 4.5 * sd


def _run(step: _Step, problem, m, S, rho, n_steps, tol, n_samples, rng) -> FixedPoint | tuple:
    """Iterate a step; its fixed point (the average of the second half of the iterates for a Monte-Carlo step)."""
    mc = "rng" in step.arguments
    rho = step.rho if step.rho is not None else rho
    means, precs = [], []
    for t in range(1, n_steps + 1):
        try:
            m_new, S_new = step(problem, m, S, rho, n_samples=n_samples, rng=rng)
            np.linalg.cholesky(S_new)
        except (np.linalg.LinAlgError, FloatingPointError) as e:
            why = "precision not positive definite" if isinstance(e, np.linalg.LinAlgError) else str(e)
            return step.title, f"failed at step {t}: {why}"
        change = max(np.max(np.abs(m_new - m)) * np.sqrt(np.max(np.diag(S_new))),
                     np.linalg.norm(S_new - S) / np.linalg.norm(S_new))
        m, S = m_new, 0.5 * (S_new + S_new.T)
        means.append(m)
        precs.append(S)
        if not mc and change < tol:
            return m, S, f"converged in {t} steps"
    if not mc:
        return m, S, f"not converged in {n_steps} steps (the last step moved {change:.2g} sd)"
    half = len(means) // 2
    tail = np.array(means[half:])
    # the Polyak average of the natural parameters (S m, S) over the second half of the iterates
    S_bar = np.mean(precs[half:], axis=0)
    m_bar = np.linalg.solve(S_bar, np.mean([P @ mm for P, mm in zip(precs[half:], means[half:])], axis=0))
    spread = np.max(np.std(tail, axis=0) * np.sqrt(np.diag(S_bar)))
    return m_bar, S_bar, f"Monte Carlo ({n_samples} samples): mean of the last {len(tail)} iterates, their spread " \
        f"{spread:.2g} sd_q", float(spread)


def approximation_costs(problem: Problem, derivations=(), *, rho: float = 0.5, n_steps: int = 500, tol: float = 1e-10,
                        n_samples: int = 16, rng=0, include_vi: bool = True, bounds=None,
                        titles=None, start=None) -> ApproximationCosts:
    r"""Run each derived step to its fixed point and set it beside the exact posterior (D ≤ 2).

    Parameters
    ----------
    problem : Problem
        D ≤ 2 (the exact posterior is integrated on a grid).
    derivations : sequence of Derivation, Recipe or str
        Gaussian candidates.
    rho : float or sequence of float
        ρ of the steps that take one, or one ρ per derivation (the others use their own, e.g. ρ = 1 of
        Newton).
    n_steps, tol
        At most ``n_steps`` steps; converged when the mean moves less than ``tol`` posterior sd of q and S
        changes by less than ``tol`` relative. A Monte-Carlo step runs all ``n_steps`` and reports the
        average of the second half (its spread in the status).
    n_samples, rng
        Monte-Carlo samples per step and the seed.
    include_vi : bool
        Add the exact Gaussian VI (full, and for D = 2 mean-field) as the first rows
        (:func:`~.quadrature.gaussian_vi`).
    bounds : (D, 2), optional
        The box of the exact posterior (default ± 10 sd of the Gaussian VI).
    titles : sequence of str, optional
        Row titles in place of the derivations' titles.
    start : (m0, S0), optional
        Where the Gaussian VI and every step start (S0 a ``(D, D)`` precision; its diagonal for a diagonal
        candidate). Default: the Gaussian VI from zero (:func:`~.quadrature.gaussian_vi`), the steps from its
        mean and precision.

    Examples
    --------
    >>> from blrkit.diagnostics import glm_problem
    >>> p = glm_problem([[1.0], [1.0], [1.0]], [0, 1, 0], likelihood="poisson", alpha=1.0, X_test=[[1.0]])
    >>> costs = approximation_costs(p, ["laplace"])
    >>> [r.title for r in costs.rows]
    ['Gaussian VI (exact expectations)', "Laplace's method"]
    >>> costs.row("Gaussian VI (exact expectations)").kl_qp < costs.row("Laplace's method").kl_qp
    True
    """
    check_problem(problem)
    n_steps, n_samples = check_count(n_steps, "n_steps"), check_count(n_samples, "n_samples")
    tol = check_scalar(tol, "tol", low=0.0)
    include_vi = check_flag(include_vi, "include_vi")
    rng = check_rng(rng)
    if problem.dim > 2:
        raise ValueError(f"approximation_costs integrates the exact posterior on a grid for D ≤ 2; the problem "
                         f"{problem.name!r} has D = {problem.dim} (use natural_gradients for larger D)")
    if isinstance(derivations, str) or not isinstance(derivations, (list, tuple)):
        derivations = [derivations]
    steps = [_Step.of(d, problem) for d in derivations]
    rhos = list(rho) if isinstance(rho, (list, tuple, np.ndarray)) and np.ndim(rho) == 1 else [rho] * len(steps)
    if len(rhos) != len(steps):
        raise ValueError(f"rho must be one number in (0, 1] or one per derivation ({len(steps)}), got {rho!r}")
    rhos = [check_scalar(r, "rho", low=0.0, high=1.0, closed_high=True) for r in rhos]
    if titles is not None and (not isinstance(titles, (list, tuple)) or len(titles) != len(steps)
                               or not all(isinstance(t, str) for t in titles)):
        raise TypeError(f"titles must be a list of {len(steps)} strings, one per derivation, got {titles!r}")
    if start is not None and (not isinstance(start, (tuple, list)) or len(start) != 2):
        raise TypeError(f"start must be a pair (m0, S0), got {type(start).__name__}")
    m0, P0 = (None, None) if start is None else check_state(problem, *start)
    vi = gaussian_vi(problem, m0, P0)
    if not vi.converged:
        raise ValueError(f"the exact Gaussian VI of {problem.name!r} did not converge in {vi.n_steps} steps")
    post = exact_posterior(problem, bounds=bounds, guess=vi)
    fits = []
    if include_vi:
        fits.append(("Gaussian VI (exact expectations)", (vi.mean, vi.precision, f"converged in {vi.n_steps} steps")))
        if problem.dim > 1:                             # in 1-D mean field is the full Gaussian
            mf = gaussian_vi(problem, vi.mean, vi.precision, diagonal=True)
            fits.append(("mean-field Gaussian VI (exact expectations)",
                         (mf.mean, mf.precision, f"{'converged' if mf.converged else 'not converged'} in {mf.n_steps} steps")))
    generator = rng
    if start is None:
        m0, P0 = vi.mean, vi.precision
    for k, step in enumerate(steps):
        S0 = np.eye(problem.dim) if step.kind == "fixed" else (np.diag(np.diag(P0)) if step.kind == "diagonal" else P0)
        title = step.title if titles is None else titles[k]
        fits.append((title, _run(step, problem, m0, S0, float(rhos[k]), n_steps, tol, n_samples, generator)))
    rows = tuple(_measure(title, fit, problem, post) for title, fit in fits)
    return ApproximationCosts(problem.name, post, rows)


def _measure(title, fit, problem: Problem, post: ExactPosterior) -> FixedPoint:
    if len(fit) == 2:                                   # (title, reason): the step failed
        return FixedPoint(title, None, None, fit[1])
    m, S, status, spread = fit if len(fit) == 4 else (*fit, None)
    sd_p = np.sqrt(np.diag(post.covariance))
    sd_q = np.sqrt(np.diag(np.linalg.solve(S, np.eye(len(S)))))
    pred = None
    if problem.predict is not None:
        nodes, w, _ = gaussian_rule(m, S)
        pred = float(np.max(np.abs(w @ problem.evaluate("predict", nodes)
                                   - post.expect(problem.evaluate("predict", post.nodes)))))
    return FixedPoint(title, m, S, status, float(np.max(np.abs(m - post.mean) / sd_p)), sd_q / sd_p,
                      post.kl_from(problem, m, S), post.kl_to(m, S), pred, spread)

