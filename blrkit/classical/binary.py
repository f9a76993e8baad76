r"""Binary weights by hand: the mean-field Bernoulli on {−1, +1}ᴾ, STE / BinaryConnect and BayesBiNN
(Khan & Rue 2023, Sec. 4.5; Courbariaux, Bengio & David 2015; Meng, Bachmann & Khan 2020).

The candidate is :math:`q(w) = \prod_j \tfrac12(1 + \mu_j w_j)`, :math:`w_j \in \{-1, +1\}`, with natural
parameters :math:`\lambda_j = \tfrac12\operatorname{logit} p_j` (:math:`p_j = q(w_j = +1)`), expectation
parameters :math:`\mu_j = \tanh\lambda_j`, log-partition :math:`A(\lambda) = \sum_j\log(2\cosh\lambda_j)` and a
constant base measure; the prior is the same family with natural parameters :math:`\lambda_0`.  The objective
of the BLR is

.. math::

    \mathcal L(q) = \mathbb E_q[\ell(w)] + \mathrm{KL}(q\,\|\,p_0), \qquad
    \mathrm{KL}(q\,\|\,p_0) = \sum_j\big[(\lambda_j - \lambda_{0,j})\mu_j - A(\lambda_j) + A(\lambda_{0,j})\big],

and the BLR step is :math:`\lambda \leftarrow (1-\rho)\lambda + \rho\big(\lambda_0 - \nabla_\mu\mathbb E_q[\ell]\big)`.

Everything here is written without the derive layer, as oracles and for teaching:

* **exact** quantities by enumerating all :math:`2^P` weight vectors (P ≤ 20): :func:`expected_loss`,
  :func:`natural_gradient` (the pairing formula
  :math:`\partial\mathbb E_q[\ell]/\partial\mu_j = \tfrac12\mathbb E_{q(w_{-j})}[\ell(w_j{=}{+1}) - \ell(w_j{=}{-1})]`),
  :func:`mean_field_vi` (coordinate ascent on the objective, no BLR), :func:`bernoulli_blr` (the BLR with
  the exact natural gradient);
* :func:`ste`: BinaryConnect's loop (latent real weights, the forward pass at their sign, the gradient
  passed straight through, optional clipping to [−1, 1] and optional stochastic binarisation);
* :func:`bayesbinn`: Algorithm 1 of Meng, Bachmann & Khan (2020), the BLR with the Gumbel-softmax
  (binary concrete) relaxed gradient :func:`relaxed_natural_gradient`, written from the paper.

``loss`` takes weight vectors ``(..., P)`` and returns ``(...)``; ``grad`` takes one relaxed or binary weight
vector ``(P,)`` and returns :math:`\nabla_w\ell` ``(P,)``.  ℓ is the *total* loss (a sum over the N examples):
the paper's :math:`N\,\nabla\hat\ell_{\text{mean}}` is ``grad`` here.
"""

from __future__ import annotations

import itertools

import numpy as np

#: enumeration costs 2^P loss evaluations
MAX_ENUMERATION_P = 20


def sign_vectors(P: int) -> np.ndarray:
    """All :math:`2^P` vectors of {−1, +1}ᴾ, ``(2**P, P)``.

    >>> sign_vectors(2)
    array([[-1., -1.],
           [-1.,  1.],
           [ 1., -1.],
           [ 1.,  1.]])
    """
    if not isinstance(P, (int, np.integer)) or not 1 <= P <= MAX_ENUMERATION_P:
        raise ValueError(f"P must be an integer in [1, {MAX_ENUMERATION_P}] for enumeration, got {P!r}")
    return np.array(list(itertools.product((-1.0, 1.0), repeat=P)))


def _probabilities(W, mu):
    """q(w) = Π_j (1 + μ_j w_j)/2 for every row of W."""
    return np.prod((1 + mu * W) / 2, axis=-1)


def expected_loss(loss, mu) -> float:
    r""":math:`\mathbb E_q[\ell] = \sum_w q(w)\,\ell(w)` over all :math:`2^P` vectors.

    >>> expected_loss(lambda w: w.sum(-1), np.array([0.5, -0.2]))
    0.3
    """
    mu = _mu(mu)
    W = sign_vectors(mu.size)
    return float(_probabilities(W, mu) @ np.asarray(loss(W), dtype=float))


def natural_gradient(loss, mu) -> np.ndarray:
    r"""The exact :math:`\nabla_\mu\mathbb E_q[\ell]`, by pairing each vector with its j-th flip:

    .. math::

        \frac{\partial\mathbb E_q[\ell]}{\partial\mu_j} = \tfrac12\,\mathbb E_{q(w_{-j})}
        \big[\ell(w_j = +1, w_{-j}) - \ell(w_j = -1, w_{-j})\big]

    (:math:`q(w_j) = (1 + \mu_j w_j)/2` is linear in :math:`\mu_j`).  It is the natural gradient with respect to
    λ.

    >>> natural_gradient(lambda w: (w[..., 0] - 0.5) ** 2 + w[..., 1], np.array([0.3, 0.0]))
    array([-1.,  1.])
    """
    mu = _mu(mu)
    P = mu.size
    W = sign_vectors(P)
    out = np.empty(P)
    for j in range(P):
        rest = np.delete(W, j, axis=1)[W[:, j] > 0]  # each w_{−j} once
        plus, minus = np.insert(rest, j, 1.0, axis=1), np.insert(rest, j, -1.0, axis=1)
        q_rest = _probabilities(rest, np.delete(mu, j))
        out[j] = 0.5 * q_rest @ (np.asarray(loss(plus), float) - np.asarray(loss(minus), float))
    return out


def log_partition(lam) -> np.ndarray:
    r"""A(λ) = log(2 cosh λ), elementwise, without overflow: :math:`|\lambda| + \log(1 + e^{-2|\lambda|})`."""
    lam = np.abs(np.asarray(lam, dtype=float))
    return lam + np.log1p(np.exp(-2 * lam))


def kl_bernoulli(lam, lam_prior) -> float:
    r"""The KL divergence of mean-field Bernoullis,
    :math:`\mathrm{KL}(q\,\|\,p_0) = \sum_j[(\lambda_j - \lambda_{0,j})\tanh\lambda_j - A(\lambda_j) + A(\lambda_{0,j})]`.

    >>> kl_bernoulli([0.0], [0.0])
    0.0
    """
    lam, lam_prior = np.asarray(lam, float), np.asarray(lam_prior, float)
    return float(np.sum((lam - lam_prior) * np.tanh(lam) - log_partition(lam) + log_partition(lam_prior)))


def objective(loss, lam, lam_prior) -> float:
    """The BLR objective E_q[ℓ] + KL(q ‖ p₀) by enumeration (the negative ELBO up to a constant)."""
    lam = np.asarray(lam, float)
    return expected_loss(loss, np.tanh(lam)) + kl_bernoulli(lam, lam_prior)


def mean_field_vi(loss, lam_prior, lam_init=None, *, tol=1e-13, max_sweeps=10_000) -> np.ndarray:
    r"""The mean-field VI optimum by coordinate ascent over all :math:`2^P` vectors (no BLR, no gradients).

    Each coordinate in turn takes its optimum given the others,
    :math:`q(w_j) \propto p_0(w_j)\exp(-\mathbb E_{q(w_{-j})}[\ell])`, that is

    .. math::

        \lambda_j \leftarrow \lambda_{0,j} - \tfrac12\big(\mathbb E_{q(w_{-j})}[\ell(w_j{=}{+1})]
        - \mathbb E_{q(w_{-j})}[\ell(w_j{=}{-1})]\big),

    computed from the conditional expectations over the :math:`2^{P-1}` vectors :math:`w_{-j}`.  Each update
    lowers the objective, so the sweeps converge to a local optimum (the global one for a convex objective in
    μ); stops when no λ_j moves by more than ``tol`` in a sweep.  Returns λ.

    >>> lam = mean_field_vi(lambda w: 2.0 * w[..., 0], [0.0])
    >>> float(lam[0])
    -2.0
    """
    lam_prior = _mu(lam_prior, "lam_prior", finite_only=True)
    P = lam_prior.size
    lam = np.zeros(P) if lam_init is None else _mu(lam_init, "lam_init", finite_only=True).copy()
    W = sign_vectors(P)
    values = np.asarray(loss(W), dtype=float)
    for _ in range(max_sweeps):
        biggest = 0.0
        for j in range(P):
            weights = _probabilities(np.delete(W, j, axis=1), np.delete(np.tanh(lam), j))
            e_plus = weights[W[:, j] > 0] @ values[W[:, j] > 0]
            e_minus = weights[W[:, j] < 0] @ values[W[:, j] < 0]
            new = lam_prior[j] - 0.5 * (e_plus - e_minus)
            biggest = max(biggest, abs(new - lam[j]))
            lam[j] = new
        if biggest <= tol:
            return lam
    raise ValueError(f"coordinate ascent did not settle in {max_sweeps} sweeps (last change {biggest:.2e})")


def bernoulli_blr(loss, lam_init, lam_prior, *, rho, n_steps) -> np.ndarray:
    r"""Every iterate ``(n_steps + 1, P)`` of the BLR with the exact natural gradient,
    :math:`\lambda \leftarrow (1-\rho)\lambda + \rho(\lambda_0 - \nabla_\mu\mathbb E_q[\ell])`, μ = tanh λ."""
    lam = _mu(lam_init, "lam_init", finite_only=True)
    lam_prior = _mu(lam_prior, "lam_prior", finite_only=True)
    path = [lam]
    for _ in range(n_steps):
        lam = (1 - rho) * lam + rho * (lam_prior - natural_gradient(loss, np.tanh(lam)))
        path.append(lam)
    return np.array(path)


def ste(grad, w_init, *, lr, n_steps, clip=False, stochastic=False, rng=None) -> np.ndarray:
    r"""BinaryConnect (Courbariaux, Bengio & David 2015): every latent real weight vector ``(n_steps + 1, P)``.

    Each step binarises the latent weights :math:`w_r`, evaluates the gradient there and passes it straight
    through the binarisation to :math:`w_r`:

    .. math::

        w_b = \operatorname{sign}(w_r)\ (+1 \text{ at } 0), \qquad w_r \leftarrow w_r - \eta\,\nabla_w\ell(w_b),
        \qquad w_r \leftarrow \operatorname{clip}(w_r, -1, 1) \text{ if ``clip``}.

    With ``stochastic=True`` the binarisation is BinaryConnect's stochastic one, :math:`w_b = +1` with
    probability :math:`\operatorname{clip}((w_r + 1)/2, 0, 1)` (draws from ``rng``).  In the BLR's reading the
    latent weights are λ (Khan & Rue 2023, Sec. 4.5).

    >>> ste(lambda w: np.array([1.0, -1.0]), [0.05, 0.0], lr=0.1, n_steps=2)
    array([[ 0.05,  0.  ],
           [-0.05,  0.1 ],
           [-0.15,  0.2 ]])
    """
    w = _mu(w_init, "w_init", finite_only=True)
    if not np.isscalar(lr) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if stochastic and rng is None:
        raise ValueError("stochastic binarisation needs rng (a numpy Generator)")
    path = [w.copy()]
    for _ in range(_n_steps(n_steps)):
        if stochastic:
            wb = np.where(rng.uniform(size=w.shape) < np.clip((w + 1) / 2, 0, 1), 1.0, -1.0)
        else:
            wb = np.where(w >= 0, 1.0, -1.0)
        w = w - lr * np.asarray(grad(wb), dtype=float)
        if clip:
            w = np.clip(w, -1.0, 1.0)
        path.append(w.copy())
    return np.array(path)


def relaxed_sample(lam, u, temperature):
    r"""The Gumbel-softmax (binary concrete) relaxation of :math:`w \sim q`: with :math:`u \sim U(0, 1)`,
    :math:`\varepsilon = \tfrac12\log(u/(1-u))` and :math:`w_\tau = \tanh((\lambda + \varepsilon)/\tau)`; as τ → 0,
    :math:`w_\tau \to \operatorname{sign}(\lambda + \varepsilon)`, which is +1 with probability
    :math:`\sigma(2\lambda) = p`."""
    eps = 0.5 * (np.log(u) - np.log1p(-u))
    return np.tanh((lam + eps) / temperature)


def _sech2(x):
    """1 − tanh² x = 4/(eˣ + e⁻ˣ)², without cancellation near ±1 (0 where cosh overflows)."""
    ax = np.abs(x)
    return 4 * np.exp(-2 * ax) / (1 + np.exp(-2 * ax)) ** 2


def relaxed_natural_gradient(grad, lam, u, temperature, guard=0.0) -> np.ndarray:
    r"""The relaxed estimate of :math:`\nabla_\mu\mathbb E_q[\ell]`, averaged over the draws ``u`` ``(M, P)``:

    .. math::

        \hat s\odot\hat g, \qquad \hat g = \nabla_w\ell(w_\tau), \qquad
        \hat s = \frac{1 - w_\tau^2}{\tau\,(1 - \tanh^2\lambda)}

    (the reparameterisation gradient :math:`\nabla_\lambda\ell(w_\tau)` divided by the Fisher information
    :math:`1 - \mu^2`).  Its mean is the gradient of the *relaxed* expected loss
    :math:`\mathbb E_\varepsilon[\ell(w_\tau)]`, which differs from the exact one for τ > 0.

    ``guard`` adds a constant to both :math:`1 - w_\tau^2` and :math:`1 - \tanh^2\lambda`, as the authors' code does
    (1e-10, against division by zero; the paper has none).  At the temperatures of their experiments, τ ≈ 1e-10,
    :math:`w_\tau = \pm 1` in floating point for almost every draw and the guard *is* the scale:
    :math:`\hat s \approx (\text{guard}/\tau)/(1 - \mu^2 + \text{guard})`, so the step passes the gradient at the
    sampled sign :math:`\operatorname{sign}(\lambda + \varepsilon)` straight through, divided by :math:`1 - \mu^2`.
    """
    lam = np.asarray(lam, dtype=float)
    total = np.zeros_like(lam)
    for uu in np.atleast_2d(u):
        z = (lam + 0.5 * (np.log(uu) - np.log1p(-uu))) / temperature
        w = np.tanh(z)
        total += (_sech2(z) + guard) / (temperature * (_sech2(lam) + guard)) * np.asarray(grad(w), dtype=float)
    return total / len(np.atleast_2d(u))


def bayesbinn(grad, lam_init, *, lam_prior, lr, temperature, n_steps, n_samples=1, rng=None, uniforms=None,
              guard=0.0):
    r"""BayesBiNN, Algorithm 1 of Meng, Bachmann & Khan (2020): every λ iterate ``(n_steps + 1, P)``.

    Each step draws ``n_samples`` relaxed weight vectors (:func:`relaxed_sample`), averages
    :math:`\hat s\odot\hat g` over them (:func:`relaxed_natural_gradient`) and takes the BLR step

    .. math::

        \lambda \leftarrow (1-\alpha)\lambda - \alpha\big(\hat s\odot\hat g - \lambda_0\big),

    α = ``lr``, λ₀ = ``lam_prior``.  The algorithm of the paper has no momentum (the authors' code adds an
    optional one, with Adam's bias correction: not here); prediction uses sign(μ) or samples w ~ q.  The
    uniforms are drawn from ``rng`` or given as ``uniforms`` ``(n_steps, n_samples, P)`` so that another
    implementation can be fed the same draws.  ``guard``: see :func:`relaxed_natural_gradient` (0 as in the
    paper; 1e-10 as in the authors' code).
    """
    lam = _mu(lam_init, "lam_init", finite_only=True)
    lam_prior = np.broadcast_to(_mu(lam_prior, "lam_prior", finite_only=True), lam.shape)
    if not np.isscalar(temperature) or not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    if not np.isscalar(lr) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    n_steps = _n_steps(n_steps)
    if uniforms is None:
        if rng is None:
            raise ValueError("give rng (a numpy Generator) or uniforms (n_steps, n_samples, P)")
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be an integer ≥ 1, got {n_samples!r}")
        uniforms = rng.uniform(size=(n_steps, n_samples, lam.size))
    uniforms = np.asarray(uniforms, dtype=float)
    if uniforms.ndim != 3 or uniforms.shape[0] != n_steps or uniforms.shape[2] != lam.size:
        raise ValueError(f"uniforms must have shape (n_steps={n_steps}, n_samples, P={lam.size}), "
                         f"got {uniforms.shape}")
    if np.any(uniforms <= 0) or np.any(uniforms >= 1):
        raise ValueError("uniforms must lie in the open interval (0, 1)")
    path = [lam.copy()]
    for u in uniforms:
        lam = (1 - lr) * lam - lr * (relaxed_natural_gradient(grad, lam, u, temperature, guard) - lam_prior)
        path.append(lam.copy())
    return np.array(path)


def _mu(x, name="mu", finite_only=False):
    a = np.array(x, dtype=float).reshape(-1) if np.ndim(x) <= 1 else None
    if a is None or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (one entry per weight), got shape {np.shape(x)}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    if not finite_only and np.any(np.abs(a) > 1):
        raise ValueError(f"{name} must lie in [−1, 1] (μ = tanh λ)")
    return a


def _n_steps(n):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n_steps must be an integer ≥ 0, got {n!r}")
    return int(n)
