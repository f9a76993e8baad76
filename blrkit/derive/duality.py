r"""A BLR solution as a sum of local natural parameters, derived (Khan & Rue 2023, Sec. 5).

At a fixed point of the BLR, :math:`\lambda_{t+1} = \lambda_t = \lambda_*`, the rule reads
:math:`\lambda_* = \lambda_0 - \nabla_\mu\mathbb{E}_{q_*}[\ell]` for every ρ, and for a loss that is
a sum :math:`\ell = \sum_i\ell_i` the natural gradient is a sum too:

.. math::

    \lambda_* = \lambda_0 + \sum_{i=1}^N \tilde\lambda_i, \qquad
    \tilde\lambda_i = -\nabla_\mu\mathbb{E}_{q_*}[\ell_i],

one *site* per example.  For a Gaussian candidate and a GLM loss :math:`\ell_i = f(x_i^\top\theta, y_i)`
Bonnet's and Price's theorems make each site two scalars on :math:`x_i`:
:math:`\tilde\lambda_i = \big((\beta_i\eta_i - r_i)\,x_i,\ -\tfrac12\beta_i x_i x_i^\top\big)` with
:math:`\eta_i = x_i^\top m_*`, :math:`r_i = f'(\eta_i, y_i)`, :math:`\beta_i = f''(\eta_i, y_i)` under the
delta method (expectations of :math:`f'`, :math:`f''` under :math:`q_*` without it).  The identity is
checked here against the stationarity of :math:`\bar\ell`; the numeric layer is :mod:`blrkit.duality`.
"""

from __future__ import annotations

import sympy as sp
from sympy import MatrixSymbol

from . import ir
from .derivation import Argument, Assignment, Derivation, Equation, Step
from .algebra import expand_terms, is_zero
from .errors import DerivationError
from .losses import GLMLoss, glm_loss
from .symbols import D, ETA, N, Y_OBS, Display

__all__ = ["derive_local_parameters"]


def derive_local_parameters(loss="logistic", *, function_name: str = "local_parameters") -> Derivation:
    r"""Derive the sites :math:`\tilde\lambda_i` of a Gaussian BLR solution for a GLM loss.

    Parameters
    ----------
    loss : GLMLoss or str
        :math:`f(\eta, y)`: a name of :data:`~blrkit.derive.GLM_LOSSES` or an expression in ``eta``
        and ``y`` (:func:`~blrkit.derive.glm_loss`).

    Returns
    -------
    Derivation
        Its steps show the fixed point, the sum over examples, the Gaussian natural gradient of one
        example and the GLM's two scalars; the emitted function ``local_parameters(m, X, y)``
        returns ``a`` and ``beta`` of shape ``(..., N)``, the sites at the mean ``m`` (delta method):
        :math:`\tilde\lambda_i = (a_i x_i, -\tfrac12\beta_i x_i x_i^\top)`.

    Raises
    ------
    blrkit.derive.errors.DerivationError
        A loss that is not a GLM loss, or an identity that does not follow (a bug, not an input error).

    Examples
    --------
    >>> d = derive_local_parameters("poisson")
    >>> print(d.update[-1].text())
    aᵢ = ηᵢ e^ηᵢ + yᵢ - e^ηᵢ
    """
    glm = glm_loss(loss) if not isinstance(loss, GLMLoss) else loss
    # shown: the quantities as named symbols (a paper's notation); checked: matrix symbols below
    lam1, lam2 = (Display(f"lam_star_{k}", rf"\lambda_{{*,{k}}}", f"λ*,{k}") for k in (1, 2))
    l01, l02 = (Display(f"lam_0_{k}", rf"\lambda_{{0,{k}}}", f"λ₀,{k}") for k in (1, 2))
    m_shown = Display("m_star", "m_*", "m_*")
    m, S0 = MatrixSymbol("m_star", D, 1), MatrixSymbol("S_0", D, D)
    X = MatrixSymbol("X", N, D)
    B, r = MatrixSymbol("B", N, N), MatrixSymbol("r", N, 1)
    sum1, sum2 = (Display(f"site_sum_{k}", rf"\sum_{{i=1}}^N \tilde\lambda_{{i,{k}}}",
                          f"Σᵢ λ̃ᵢ,{k}") for k in (1, 2))
    site1, site2 = (Display(f"site_{k}", rf"\tilde\lambda_{{i,{k}}}", f"λ̃ᵢ,{k}") for k in (1, 2))
    E_g_i, E_H_i = (Display("E_g_i", r"\mathbb{E}_{q_*}[\nabla\ell_i]", "E_q*[∇ℓᵢ]"),
                    Display("E_H_i", r"\mathbb{E}_{q_*}[\nabla^2\ell_i]", "E_q*[∇²ℓᵢ]"))
    steps = [
        Step("Fixed point", (Equation(lam1, l01 - Display("dmu1", r"\nabla_{\mu_1}\mathbb{E}_{q_*}[\ell]",
                                                                  "∇_μ₁ E_q*[ℓ]")),
                             Equation(lam2, l02 - Display("dmu2", r"\nabla_{\mu_2}\mathbb{E}_{q_*}[\ell]",
                                                          "∇_μ₂ E_q*[ℓ]"))),
             "$\\lambda_{t+1} = \\lambda_t = \\lambda_*$ in $\\lambda_{t+1} = (1-\\rho)\\lambda_t + "
             "\\rho(\\lambda_0 - \\nabla_\\mu\\mathbb{E}_{q_t}[\\ell])$: ρ drops out", "duality"),
        Step("Sum over examples", (Equation(lam1, l01 + sum1), Equation(lam2, l02 + sum2),
                                   Equation(site1, -Display("dmu1_i", r"\nabla_{\mu_1}\mathbb{E}_{q_*}[\ell_i]",
                                                            "∇_μ₁ E_q*[ℓᵢ]")),
                                   Equation(site2, -Display("dmu2_i", r"\nabla_{\mu_2}\mathbb{E}_{q_*}[\ell_i]",
                                                            "∇_μ₂ E_q*[ℓᵢ]"))),
             "$\\ell = \\sum_i \\ell_i$ and $\\nabla_\\mu$ is linear: one site per example", "duality"),
        Step("Natural gradient of one example", (Equation(site1, E_H_i * m_shown - E_g_i),
                                                Equation(site2, -E_H_i / 2)),
             "Bonnet's and Price's theorems, as for the whole loss", "bonnet-price"),
    ]
    # the GLM: ∇ℓ_i = f'(η_i) x_i and ∇²ℓ_i = f''(η_i) x_i x_iᵀ, so each site is two scalars on x_i
    eta_i, y_i = sp.Symbol("eta_i", real=True), sp.Symbol("y_i", real=True)
    f1, f2 = (e.subs({ETA: eta_i, Y_OBS: y_i}) for e in (glm.f1, glm.f2))
    r_i, beta_i, a_i = sp.Symbol("r_i", real=True), sp.Symbol("beta_i", real=True), sp.Symbol("a_i", real=True)
    x_i = Display("x_i", "x_i", "xᵢ")
    steps.append(Step("GLM", (Equation(Display("eta_def", r"\eta_i", "ηᵢ"), Display("xm", r"x_i^\top m_*", "xᵢᵀm_*")),
                              Equation(r_i, f1), Equation(beta_i, f2),
                              Equation(site1, a_i * x_i), Equation(a_i, beta_i * eta_i - r_i),
                              Equation(site2, -beta_i / 2 * Display("xx", r"x_i x_i^\top", "xᵢxᵢᵀ"))),
                      f"$\\ell_i = f(x_i^\\top\\theta, y_i)$, ${glm.name.split(' (')[0]}$: "
                      "$\\nabla\\ell_i = f'(\\eta_i)\\,x_i$, $\\nabla^2\\ell_i = f''(\\eta_i)\\,x_i x_i^\\top$ at "
                      "$m_*$ (delta method; under $q_*$ the expectations of $f'$ and $f''$)", "duality",
                      ))
    # the identity, checked: with r = f'(Xm), B = diag f''(Xm), the sums of the sites are (Xᵀa, −½XᵀBX) with
    # a = B X m − r; at a stationary point Xᵀr = −∇(−log p₀)(m) and S_* = S₀ + XᵀBX, λ₀ = (S₀ m₀, −½S₀)
    m0 = MatrixSymbol("m_0", D, 1)
    site_sum_1 = X.T * (B * X * m - r)
    S_star = S0 + X.T * B * X
    stationary = {X.T * r: -S0 * (m - m0)}  # ∇ℓ̄(m_*) = Xᵀr + S₀(m_* − m₀) = 0
    first = expand_terms(expand_terms(S0 * m0 + site_sum_1).subs(stationary) - S_star * m)
    second = expand_terms((-S0 / 2 - X.T * B * X / 2) + S_star / 2)
    if not (is_zero(first) and is_zero(second)):
        raise DerivationError(f"the sites do not sum to the solution: residuals {first}, {second}")
    shown = {n: Display(n, t, u) for n, t, u in (("Xa", r"X^\top a", "Xᵀa"), ("XBX", r"X^\top B X", "XᵀBX"),
                                                  ("Sm", r"S_* m_*", "S_* m_*"), ("S_star", "S_*", "S_*"))}
    steps.append(Step("Identity", (Equation(sum1, shown["Xa"]), Equation(sum2, -shown["XBX"] / 2),
                                   Equation(lam1, shown["Sm"]), Equation(lam2, -shown["S_star"] / 2)),
                      "with $a = BXm_* - r$, $B = \\mathrm{diag}(\\beta)$: at a stationary point, "
                      "$X^\\top r = -S_0(m_* - m_0)$ and $S_* = S_0 + X^\\top B X$, so "
                      "$\\lambda_0 + \\sum_i\\tilde\\lambda_i = (S_* m_*, -\\tfrac12 S_*)$ (checked)", "duality"))
    # the emitted code: the sites at the mean m, batched over leading axes
    eta = sp.Symbol("eta")
    at = {eta_i: eta, y_i: sp.Symbol("y")}
    oracles = (*glm.label_check(), ir.Comment("η_i = x_iᵀm for every example"), ir.LinearPredictor("eta", "X", "m"),
               ir.Let("r", f1.subs(at), like="eta"), ir.Let("beta", f2.subs(at), like="eta"))
    a_sym, b_sym = sp.Symbol("a"), sp.Symbol("beta")
    assignments = (Assignment(a_sym, b_sym * eta - sp.Symbol("r"), "a_i = beta_i eta_i - r_i"),)
    update = (Equation(r_i, f1), Equation(beta_i, f2), Equation(a_i, f2 * eta_i - f1))
    return Derivation(
        title=f"Local natural parameters ({glm.name})", family="multivariate-gaussian", approximations=(),
        steps=tuple(steps), natural_update=(Equation(lam1, l01 + sum1), Equation(lam2, l02 + sum2)),
        update=update, anchor="duality", function_name=function_name,
        summary="The sites of a Gaussian BLR solution of a GLM: λ̃_i = (a_i x_i, -β_i x_i x_iᵀ / 2).",
        arguments=(Argument("m", "vector", "mean m_* of the solution, (..., D)"),
                   Argument("X", "data", "design matrix, rows x_i, (..., N, D)"),
                   Argument("y", "data", glm.data[1][1])),
        oracles=oracles, assignments=assignments, outputs=(a_sym, b_sym),
        dims=((D, "X.shape[-1]"),), elementwise=True, extra={},
    )
