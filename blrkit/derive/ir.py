r"""The intermediate representation between a derivation's maths and its emitted code.

An emitted step evaluates its oracle terms before the derived assignments: draws from q_t, Gauss–Hermite
quadrature, GLM sums, the enumeration of {−1, +1}^P, index contractions, the user's oracles.  Each of these is a
typed node here, holding SymPy expressions or plain data (names of the step's arrays, axes, index strings); each
knows the names it reads and writes, so a printer, a checker or a mutation can reason about it without parsing
text.  :func:`blrkit.derive.printing.node_code` is the one code printer of these nodes (through the Array API
namespace ``xp``); no module of :mod:`blrkit.derive` writes an oracle line as a string.

Every node is a frozen dataclass with two properties: ``reads`` (a frozenset of names) and ``writes`` (a tuple of
names, in the order the code sets them).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import sympy as sp


def _names(*parts) -> frozenset:
    """The names in ``parts``: strings, SymPy expressions (their symbols), nested tuples; ``None`` skipped."""
    out = set()
    for p in parts:
        if p is None:
            continue
        if isinstance(p, str):
            out.add(p)
        elif isinstance(p, (tuple, list)):
            out |= _names(*p)
        elif isinstance(p, Operand):
            out |= set(p.names)
        elif isinstance(p, sp.Basic):
            out |= {s.name for s in p.free_symbols if hasattr(s, "name")}
            out |= {s.name for s in p.atoms(sp.MatrixSymbol)}
    return frozenset(out)


class Node:
    """Base of the IR's nodes: ``READS`` and ``WRITES`` name, in order, what a node reads and writes; each entry is
    one of its fields (a name, a SymPy expression, an :class:`Operand` or a tuple of them: the names in it) or a
    name the node uses itself (``rng``, the ``z`` it draws)."""

    READS: tuple = ()
    WRITES: tuple = ()

    def _values(self, entries) -> list:
        own = {f.name for f in fields(self)}
        return [getattr(self, e) if e in own else e for e in entries]

    @property
    def reads(self) -> frozenset:
        """Every name the node's code reads."""
        return _names(*self._values(self.READS))

    @property
    def writes(self) -> tuple:
        """Every name the node's code assigns, in order."""
        out = []
        for v in self._values(self.WRITES):
            out += list(v) if isinstance(v, tuple) else [v]
        return tuple(out)


@dataclass(frozen=True)
class Comment(Node):
    """A comment above the lines it explains (one ``#`` line per line of ``text``)."""

    text: str

    READS = ()
    WRITES = ()


@dataclass(frozen=True)
class Let(Node):
    """``target = expr``: a derived SymPy expression, printed as array code.

    ``matrix`` prints it with the matrix printer (``dims`` maps a dimension symbol to its code, e.g.
    ``X.shape[-1]``), else as elementwise scalar code; ``like``: an expression free of that array is
    broadcast to its shape (``xp.full_like``)."""

    target: str
    expr: sp.Basic
    matrix: bool = False
    dims: tuple = ()
    like: str | None = None

    READS = ('expr', 'like')
    WRITES = ('target',)


@dataclass(frozen=True)
class Constant(Node):
    """``target = value`` as an array of the step's dtype (a numeric ρ the update states)."""

    target: str
    value: sp.Basic

    READS = ()
    WRITES = ('target',)


@dataclass(frozen=True)
class Count(Node):
    """Counts read off array shapes: ``targets[i] = array.shape[axes[i]]`` (N, M, P, D), with what they count."""

    targets: tuple
    array: str
    axes: tuple
    doc: str = ""

    READS = ('array',)
    WRITES = ('targets',)


@dataclass(frozen=True)
class LabelCheck(Node):
    """Refuse labels outside {0, 1}: a ``ValueError`` naming ``array`` and the loss, with ``advice``."""

    array: str
    loss: str
    advice: str

    READS = ('array',)
    WRITES = ()


@dataclass(frozen=True)
class OracleCall(Node):
    """``targets = oracle(at)``: a callable the user passes, at a point (``m``, the draws ``theta``, ``z ⊙ m``
    as an unevaluated SymPy product), averaged over the draws' axis 0 when ``average``; ``log_weight`` and
    ``divisor`` (names) weigh each draw by ``exp(log_weight) / divisor`` before the average."""

    targets: tuple
    oracle: str
    at: sp.Basic
    average: bool = False
    log_weight: str | None = None
    divisor: str | None = None
    asarray: bool = False
    note: str = ""

    READS = ('oracle', 'at', 'log_weight', 'divisor')
    WRITES = ('targets',)


@dataclass(frozen=True)
class Alias(Node):
    """``target = source``, or the average of ``source`` over the draws' axis 0 when ``average``."""

    target: str
    source: str
    average: bool = False

    READS = ('source',)
    WRITES = ('target',)


@dataclass(frozen=True)
class DeviationMean(Node):
    """``target = mean_k of(θ_k) ⊙ (θ_k − mean)`` over the draws ``draws`` (axis 0)."""

    target: str
    of: str
    draws: str
    mean: str

    READS = ('of', 'draws', 'mean')
    WRITES = ('target',)


@dataclass(frozen=True)
class Select(Node):
    """``targets[i] = sources[i][..., -1:]``: the last component (K), kept as an axis of length 1."""

    targets: tuple
    sources: tuple

    READS = ('sources',)
    WRITES = ('targets',)


@dataclass(frozen=True)
class Sample(Node):
    """Draws from a fixed distribution, by NumPy's generator ``rng``, moved to the device of ``like``.

    ``distribution``: ``"normal"`` (standard), ``"uniform"`` (on (0, 1)), ``"bernoulli"`` (probability
    ``prob``); shape ``(draws, *like.shape)``, or one draw per last axis of ``like`` shared by the batch of
    problems when ``draws`` is ``None``."""

    target: str
    distribution: str
    like: str
    draws: str | None = "n_samples"
    prob: str | None = None

    READS = ('rng', 'like', 'draws', 'prob')
    WRITES = ('target',)


@dataclass(frozen=True)
class FamilySample(Node):
    """``target = n_samples`` draws θ ~ q_t of an exponential family by NumPy's generator (score-function Monte
    Carlo): ``rng.<method>(*args)``, the family's :class:`~blrkit.families.Draw`, its ``args`` SymPy expressions
    in the standard parameters ``params`` (whose broadcast shape the draws take, after the ``n_samples`` axis)."""

    target: str
    method: str
    args: tuple
    params: tuple

    READS = ('rng', 'n_samples', 'args', 'params')
    WRITES = ('target',)


@dataclass(frozen=True)
class FamilyQuadrature(Node):
    """``target`` = Cov_q[T]⁻¹ Cov_q[T, f], the Gauss–Legendre value of ∇_μ E_q[f] for a family of one component:
    ``n`` nodes t; ``span`` None: u = t on (−1, 1); else t on (−span, span), u = c + s·t/(1 − t²) with c, s the
    mean and spread of u under q from a first pass with c = 0, s = 1.  ``theta`` = ``phi`` (an expression in the
    symbol ``u``, ``log_jacobian`` = log dφ/du); weights ∝ w (du/dt) (dφ/du) exp(``log_kernel``) (log h(θ) + λᵀT(θ)
    in the standard parameters ``params``), normalised over the nodes; ``integrand`` f and ``statistics`` T are
    expressions in ``theta``."""

    target: str
    theta: str
    u: str
    phi: sp.Basic
    log_jacobian: sp.Basic
    log_kernel: sp.Basic
    integrand: sp.Basic
    statistics: tuple
    n: int
    span: float | None
    params: tuple

    READS = ('params', 'log_kernel', 'integrand', 'statistics')
    WRITES = ('t', 'w', 'v', 'dv', 'u', 'theta', 'log_p', 'p', 'u_mean', 'u_sd', 'f', 'T', 'D', 'grad_lam', 'F',
              'target')

    @property
    def writes(self) -> tuple:
        """Without a ``span`` (u = t) there is no first pass, and no ``u_mean``, ``u_sd``."""
        out = super().writes
        return out if self.span is not None else tuple(x for x in out if x not in ("u_mean", "u_sd"))


@dataclass(frozen=True)
class Cholesky(Node):
    """``target = cholesky(of)``: the lower factor L of ``of`` = L Lᵀ."""

    target: str
    of: str

    READS = ('of',)
    WRITES = ('target',)


@dataclass(frozen=True)
class Reparameterise(Node):
    """θ = m + Σ^{1/2} ε: ``scale`` is the Cholesky factor L of the precision (``"cholesky"``: θ = m + L⁻ᵀε), the
    diagonal precision s (``"diagonal"``: θ = m + ε/√s), or ``None`` (``"identity"``: θ = m + ε, Σ = I)."""

    target: str
    mean: str
    noise: str
    form: str
    scale: str | None = None

    READS = ('mean', 'noise', 'scale')
    WRITES = ('target',)


@dataclass(frozen=True)
class Relaxation(Node):
    """BayesBiNN's concrete (Gumbel-softmax) relaxation of binary weights from uniform draws ``u``:
    ``z = (logits + ½ log(u/(1 − u))) / temperature``, ``target = tanh(z)``, and ``log_scale`` = log of
    (1 − w²)/(1 − μ²), the relaxation's scale."""

    target: str
    logits: str
    temperature: str
    log_scale: str

    READS = ('u', 'logits', 'temperature')
    WRITES = ('z', 'target', 'log_scale')


@dataclass(frozen=True)
class Sign(Node):
    """``target = sign(of)`` with +1 at 0 (the straight-through estimator's binary weights)."""

    target: str
    of: str

    READS = ('of',)
    WRITES = ('target',)


@dataclass(frozen=True)
class LinearPredictor(Node):
    """``target = X at``: η_i = x_iᵀ at for every example (``at`` = m, or each draw θ_k)."""

    target: str
    design: str
    at: str

    READS = ('design', 'at')
    WRITES = ('target',)


#: the sums a GLM's derivatives are made of, with d1 = f'(η_i), d2 = f''(η_i) per example
GLM_SUMS = ("gradient", "hessian", "hessian_diagonal", "gauss_newton")


@dataclass(frozen=True)
class GlmSum(Node):
    """A sum over examples as a matrix product: ``"gradient"`` Σ_i x_i r_i, ``"hessian"`` Σ_i w_i x_i x_iᵀ, its
    diagonal Σ_i w_i x_i², ``"gauss_newton"`` Σ_i r_i² x_i² (``weight``: the per-example r_i or w_i), averaged
    over the draws' axis 0 when ``average``."""

    target: str
    kind: str
    weight: str
    design: str = "X"
    average: bool = False

    def __post_init__(self):
        if self.kind not in GLM_SUMS:
            raise ValueError(f"kind must be one of {GLM_SUMS}, got {self.kind!r}")

    READS = ('weight', 'design')
    WRITES = ('target',)


@dataclass(frozen=True)
class Quadrature(Node):
    """Gauss–Hermite points for every predictive η_i ~ N(x_iᵀm, x_iᵀΣx_i) under q_t: ``n`` nodes z and weights w,
    ``eta`` = mean + √(2 var) z, and the labels broadcast to the nodes (``y_nodes``).  ``precision``: the name
    of S (full) or s (diagonal, ``diagonal``)."""

    n: int
    precision: str
    diagonal: bool = False
    design: str = "X"
    labels: str = "y"

    READS = ('design', 'm', 'precision', 'labels')
    WRITES = ('eta_mean', 'eta_var', 'z', 'w', 'eta', 'y_nodes')


@dataclass(frozen=True)
class QuadratureSum(Node):
    """``target = Σ_j w_j f(η_j) / √π``: the Gauss–Hermite estimate of E[f(η_i)] with weights ``weights``
    (``normalised``: divided by √π, the sum of the weights)."""

    target: str
    integrand: sp.Basic
    weights: str = "w"
    like: str = "eta"
    normalised: bool = True  # divided by √π, the sum of the weights

    READS = ('integrand', 'weights')
    WRITES = ('target',)


@dataclass(frozen=True)
class Enumeration(Node):
    """Every w in {−1, +1}^P (P = ``size``), the loss there and ∂E_q[ℓ]/∂μ_j for the mean-field Bernoulli q with
    natural parameters ``logits``, by prefix and suffix products of Π_{k≠j}(1 + μ_k w_k)/2."""

    target: str
    logits: str
    loss: str
    size: str = "P"

    READS = ('logits', 'loss', 'size')
    WRITES = ('bits', 'W', 'ell', 'f', 'before', 'after', 'target')


@dataclass(frozen=True)
class Operand:
    """An operand of a :class:`Contraction`: an array (its name) or the ratio of two, with its index string."""

    name: str
    indices: str
    over: str | None = None  # name / over, elementwise

    @property
    def names(self) -> tuple:
        return (self.name,) if self.over is None else (self.name, self.over)


@dataclass(frozen=True)
class Contraction(Node):
    """``target[out] = Σ left[..] right[..]`` over the one index they share and ``out`` lacks (a matrix
    product); ``times``: multiplied elementwise by an array indexed by ``out``; ``shape``: the result reshaped
    to ``(*<shape>.shape, D, D)`` (a flattened x xᵀ statistic).  A single operand with ``right=None`` is a sum
    over its index missing from ``out``."""

    target: str
    out: str
    left: Operand
    right: Operand | None = None
    times: str | None = None
    shape: str | None = None
    note: str = ""

    READS = ('left', 'right', 'times', 'shape')
    WRITES = ('target',)

    @property
    def reads(self) -> frozenset:
        return super().reads | ({"D"} if self.shape else set())


@dataclass(frozen=True)
class LogMeanParameter(Node):
    """``target = exp(E_q[log θ])`` of a Dirichlet along the last axis: exp(ψ(λ_k) − ψ(Σ_v λ_v)) (``normalised``:
    with its ψ(Σ_v λ_v))."""

    target: str
    of: str
    normalised: bool = True

    READS = ('of',)
    WRITES = ('target',)


@dataclass(frozen=True)
class LocalFixedPoint(Node):
    """LDA's local blocks at ρ = 1: per document, γ_d ← α + exp(E[log θ_d]) ⊙ Σ_w (n_dw / norm_dw)
    exp(E[log β_w]), until γ_d changes by less than ``tol`` (mean absolute change) or ``cap`` iterations; then
    exp(E[log θ]) and the normaliser at the final γ."""

    state: str
    topics: str
    counts: str
    prior: str
    cap: str
    tol: str

    READS = ('state', 'topics', 'counts', 'prior', 'cap', 'tol')
    WRITES = ('active', 'exp_elog_theta', 'norm_phi', 'new', 'change', 'state')


@dataclass(frozen=True)
class Responsibilities(Node):
    """``target = softmax(logits)`` along the last axis, with its log normaliser ``log_norm`` (``normalised``: the
    normaliser subtracted)."""

    target: str
    logits: str
    log_norm: str
    note: str = ""
    normalised: bool = True

    READS = ('logits',)
    WRITES = ('log_norm', 'target')


@dataclass(frozen=True)
class PairingLogits(Node):
    """``target_ik = ⟨η_k, T(x_i)⟩ + c_k`` for T(x) = (x, x xᵀ): two matrix products with the statistics
    (``design`` and its flattened outer products ``outer``)."""

    target: str
    design: str
    outer: str
    eta1: str
    eta2: str
    offset: str

    READS = ('design', 'outer', 'eta1', 'eta2', 'offset', 'D')
    WRITES = ('target',)


@dataclass(frozen=True)
class MixtureLogDensity(Node):
    """log q(θ) of a mixture of Gaussians at the draws θ_{k,s} of every component, with the responsibilities
    r_j(θ) and ∇ log q, ∇² log q: writes ``d``, ``Sd``, ``logdet_S``, ``log_pi``, ``a``, ``log_q``, ``r``,
    ``glogq``, ``Hlogq``."""

    draws: str
    means: str
    precisions: str
    log_weights: str
    factor: str

    READS = ('draws', 'means', 'precisions', 'log_weights', 'factor')
    WRITES = ('d', 'Sd', 'logdet_S', 'log_pi', 'a', 'log_q', 'r', 'glogq', 'Hlogq')


@dataclass(frozen=True)
class LogDet(Node):
    """``target = log det(of)``."""

    target: str
    of: str

    READS = ('of',)
    WRITES = ('target',)


@dataclass(frozen=True)
class Components(Node):
    """``targets = array[..., 0], array[..., 1], …`` (``indices``: one int, or a pair for a matrix's entries)."""

    targets: tuple
    array: str
    indices: tuple

    READS = ('array',)
    WRITES = ('targets',)


@dataclass(frozen=True)
class Zeros(Node):
    """``target``: zeros of the batch shape of ``like`` (its last axis dropped), to broadcast stacked entries."""

    target: str
    like: str

    READS = ('like',)
    WRITES = ('target',)


@dataclass(frozen=True)
class Inverse(Node):
    """``target = of⁻¹`` by a solve against the identity."""

    target: str
    of: str

    READS = ('of',)
    WRITES = ('target',)


@dataclass(frozen=True)
class Stack(Node):
    """``target`` stacked from SymPy entries (a tuple: a vector; a tuple of tuples: a matrix), each broadcast
    by adding ``zero``; averaged over the draws' axis 0 when ``average``."""

    target: str
    entries: tuple
    zero: str = "zero"
    average: bool = False

    READS = ('zero', 'entries')
    WRITES = ('target',)


@dataclass(frozen=True)
class ScoreFunction(Node):
    """The score-function estimate of ∇_μ E_q[f] from draws ``draws`` of q_t: f(θ_k), T(θ_k), μ, a leave-one-out
    control variate, ∇_λ = mean((f − b)(T − μ)), F(λ) and ``target`` = F⁻¹∇_λ.  SymPy expressions in the
    draws' symbol ``theta`` (``integrand`` f, ``statistics``) and in the standard parameters (``mean``,
    ``fisher`` rows)."""

    target: str
    draws: str
    integrand: sp.Basic
    statistics: tuple
    mean: tuple
    fisher: tuple

    READS = ('draws', 'n_samples', 'integrand', 'statistics', 'mean', 'fisher')
    WRITES = ('f', 'T', 'mu', 'b', 'grad_lam', 'F', 'target')


def reads(nodes) -> frozenset:
    """Every name ``nodes`` read."""
    return frozenset().union(*(n.reads for n in nodes))


def writes(nodes) -> tuple:
    """Every name ``nodes`` write, in order."""
    return tuple(w for n in nodes for w in n.writes)


def calls(nodes) -> frozenset:
    """The user's callables ``nodes`` call (:class:`OracleCall` and :class:`Enumeration`)."""
    out = {n.oracle for n in nodes if isinstance(n, OracleCall)}
    return frozenset(out | {n.loss for n in nodes if isinstance(n, Enumeration)})
