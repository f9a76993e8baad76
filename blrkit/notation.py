"""One table of notation: code name ↔ LaTeX ↔ meaning (Khan & Rue 2023).

Every module, docstring and printed derivation uses these names.  SymPy symbols
are named after the code name, so an expression prints as valid Python and, through
:data:`LATEX`, as the paper's symbol.
"""

from __future__ import annotations

#: code name -> (LaTeX, meaning)
NOTATION: dict[str, tuple[str, str]] = {
    "theta": (r"\theta", "the model parameters, the random variable of q"),
    "q": (r"q", "the candidate posterior, an exponential family"),
    "lam": (r"\lambda", "natural parameters of q"),
    "mu": (r"\mu", "expectation parameters of q, μ = E_q[T(θ)] = ∇A(λ)"),
    "T": (r"T", "sufficient statistics T(θ)"),
    "A": (r"A", "log-partition function A(λ)"),
    "m": (r"m", "mean of a Gaussian q"),
    "S": (r"S", "precision of a Gaussian q"),
    "Sigma": (r"\Sigma", "covariance Σ = S⁻¹"),
    "s": (r"s", "diagonal precision of a mean-field Gaussian q"),
    "rho": (r"\rho", "learning rate ρ ∈ (0, 1]"),
    "loss": (r"\ell", "the loss ℓ(θ)"),
    "loss_bar": (r"\bar{\ell}", "ℓ̄ = ℓ − log p₀, the loss plus the negative log-prior"),
    "p0": (r"p_0", "the prior, with natural parameters λ₀"),
    "lam0": (r"\lambda_0", "natural parameters of the prior"),
    "g": (r"g", "gradient of the loss, g = ∇ℓ"),
    "H": (r"H", "Hessian of the loss, H = ∇²ℓ"),
    "N": (r"N", "number of data"),
    "D": (r"D", "dimension of θ"),
}

#: code name -> LaTeX, for SymPy's printers
LATEX: dict[str, str] = {name: tex for name, (tex, _) in NOTATION.items()}
