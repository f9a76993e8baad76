r"""Live identity checks of a family, run by ``blrkit families`` (and reusable in notebooks).

For a random valid parameter point (the family's ``example``) two identities of
Khan & Rue 2023, Sec. 1.2 are checked numerically, each against a computation
that does not use the other side:

- **μ = ∇A(λ) = E_q[T(θ)]**: the differentiated log-partition against an
  expectation computed from the density itself (exact sums, adaptive quadrature,
  or Monte Carlo, see :mod:`blrkit.families._integrate`).  Sums and quadrature
  pass at 1e-9 relative; Monte Carlo passes within 5 standard errors per entry.
- **round trip**: standard → natural → expectation → natural → standard returns
  the starting point to 1e-10 relative.

>>> import numpy as np
>>> from blrkit.families import Beta
>>> [c.passed for c in check_family(Beta(), np.random.default_rng(0))]
[True, True]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from blrkit.families._integrate import moments

__all__ = ["Check", "check_family"]

EXACT_RTOL = 1e-9  # sums and adaptive quadrature (asked for 1e-12 relative) against ∇A
MC_SIGMAS = 5.0  # Monte-Carlo estimates: within 5 standard errors (two-sided p ≈ 6e-7 per entry)
ROUND_TRIP_RTOL = 1e-10  # the maps are closed forms or Newton to ‖∇A − μ‖ ≤ 1e-12


class Check(NamedTuple):
    """Outcome of one identity check: name, pass/fail, the error, and how it was judged."""

    name: str
    passed: bool
    error: float
    detail: str


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def check_family(family, rng: np.random.Generator) -> list[Check]:
    """Run the μ = ∇A and round-trip checks at ``family.example(rng)``."""
    std = family.example(rng)
    lam = family.to_natural(**std)
    mu = family.to_expectation(lam)
    mean, _, se, _, method = moments(family, lam, rng=rng)
    if method == "monte-carlo":
        z = float(np.max(np.abs(mean - mu) / se))
        first = Check("mu = grad A", z <= MC_SIGMAS, z, f"{method}, max |error|/stderr (pass <= {MC_SIGMAS:g})")
    else:
        err = _relative(mean, mu)
        first = Check("mu = grad A", err <= EXACT_RTOL, err, f"{method}, max relative error (pass <= {EXACT_RTOL:g})")
    back = family.to_standard(family.from_expectation(mu))
    err = max(_relative(back[k], np.asarray(v, float)) for k, v in std.items())
    second = Check("round trip", err <= ROUND_TRIP_RTOL, err,
                   f"standard->natural->expectation->natural->standard (pass <= {ROUND_TRIP_RTOL:g})")
    return [first, second]
