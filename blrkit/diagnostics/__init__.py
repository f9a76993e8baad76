r"""What each approximation of the Bayesian learning rule costs, measured against the exact answer.

The BLR with a Gaussian candidate :math:`q = \mathcal N(m, S^{-1})` reaches the exact Gaussian variational
posterior when its natural gradient is exact, and a known algorithm when it is approximated: the delta
method gives Newton's method and Laplace, a diagonal precision diagonal Newton, the Gauss–Newton
Hessian OGN and VOGN, Monte Carlo the variational Newton step (Khan & Rue 2023, Table 1). What is lost?
Two measurements answer it for a problem :math:`\bar\ell = \ell - \log p_0` given as numeric callables
(:class:`Problem`, :func:`glm_problem`):

- :func:`natural_gradients`: at one state, each derived step's :math:`\hat g, \hat H` beside the exact
  :math:`\mathbb E_q[\nabla\bar\ell], \mathbb E_q[\nabla^2\bar\ell]` (Gauss–Hermite quadrature);
- :func:`approximation_costs`: each step's fixed point beside the exact posterior (D ≤ 2, a quadrature
  grid): moments, :math:`\mathrm{KL}(q\|p)`, :math:`\mathrm{KL}(p\|q)`, the predictive error, and beside the
  exact Gaussian VI, the best Gaussian in :math:`\mathrm{KL}(q\|p)`.

Both return frozen results that print as Markdown tables, render as HTML in Jupyter and draw one plot.
The derived steps come from :func:`blrkit.derive.derive` or a recipe and run as compiled
(:meth:`~blrkit.derive.Derivation.compile`); the numeric core (:mod:`blrkit.diagnostics.quadrature`) shares
nothing with them.

>>> import numpy as np
>>> from blrkit.diagnostics import glm_problem, approximation_costs
>>> p = glm_problem(np.ones((4, 1)), [0, 0, 1, 3], likelihood="poisson", alpha=1.0)
>>> costs = approximation_costs(p, ["laplace"])
>>> costs.row("Laplace's method").mean_error > costs.row("Gaussian VI (exact expectations)").mean_error
True
"""

from blrkit.diagnostics.costs import (
    ApproximationCosts,
    FixedPoint,
    GradientRow,
    NaturalGradients,
    approximation_costs,
    natural_gradients,
)
from blrkit.diagnostics.problem import Problem, glm_problem
from blrkit.diagnostics.quadrature import ExactPosterior, GaussianFit, exact_posterior, gaussian_vi

__all__ = [
    "ApproximationCosts", "ExactPosterior", "FixedPoint", "GaussianFit", "GradientRow", "NaturalGradients",
    "Problem", "approximation_costs", "exact_posterior", "gaussian_vi", "glm_problem", "natural_gradients",
]
