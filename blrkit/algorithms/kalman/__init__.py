r"""The Kalman filter, RTS smoother and EM for state-space models, derived from the Bayesian learning rule.

A linear-Gaussian state-space model: prior :math:`x_0 \sim \mathcal N(m_0, P_0)`, dynamics
:math:`x_{t+1} = F_t x_t + b_t + w_t,\ w_t \sim \mathcal N(0, Q_t)` and observations
:math:`y_t = H_t x_t + d_t + v_t,\ v_t \sim \mathcal N(0, R_t)`, for :math:`t = 0, \dots, T-1`; the
offsets :math:`b_t` (a control input :math:`B u_t` is one) and :math:`d_t` and the matrices may change
with :math:`t`. Filtering is Bayes' rule once per observation: the predicted marginal
:math:`\mathcal N(\hat m_t, \hat P_t)` is the prior, the loss :math:`\tfrac12\|y_t - d_t - H_t x\|^2_{R_t^{-1}}`
is quadratic, so one BLR step with ρ = 1 and a full Gaussian candidate gives the exact posterior
(conjugacy; Khan & Rue 2023, Sec. 5.1). In natural parameters it is the information filter; the
Woodbury identity turns it into the gain form that the emitted step
:func:`~blrkit.algorithms._generated.kalman_update.kalman_update` computes, the observation offset
:math:`d_t` entering through the loss's residual :math:`y_t - d_t - H_t\bar m` (derived, not added here).
The prediction :math:`\hat m_{t+1} = F_t m_t + b_t,\ \hat P_{t+1} = F_t P_t F_t^\top + Q_t` is Gaussian
marginalisation, not a BLR step, and is written here in the driver, as is the RTS smoother (the
classical backward pass; its result equals one ρ = 1 BLR step on the joint Gaussian of the whole
trajectory). :func:`kalman_em` fits the model's parameters by expectation–maximisation, the BLR's
EM row (Khan & Rue 2023, Sec. 5.2) with the smoother as the E-step.

Missing data. A NaN (or a masked entry of a :class:`numpy.ma.MaskedArray`) in ``y`` is a missing
component; the update of that step uses the observed components only (the observed rows of
:math:`y_t, d_t, H_t` and the observed block of :math:`R_t`); a step with nothing observed is a
prediction only.

Speed without approximation. With one model for every series (no batch axes on
:math:`F, Q, H, R, P_0`) and the same missing components in every series, the covariance
recursion does not depend on the data and is shared by all series. A small batch (at most
``SCAN_MAX_BATCH_ELEMENTS`` series × D, :mod:`~blrkit.algorithms.kalman.model`) calls the emitted update on
its means; for a larger one the
emitted update is evaluated once per step on the shared covariance and on unit inputs, which gives
the affine map :math:`(\hat m_t, y_t, d_t) \mapsto (m_t, v_t)` it computes, and that map is applied to
the whole batch as matrix products. Where the matrices are also constant in time and the predicted
covariance stops changing (to a relative 1e-15, :data:`STEADY_RTOL`) with no missing component
ahead, the map is reused; for a small batch the mean recursion
:math:`\hat m_{t+1} = A \hat m_t + F K (y_t - d_t) + b_t`,
:math:`A = F(I - KH)`, is then an affine recursion solved by a prefix (associative) scan in
:math:`O(\log T)` NumPy passes and the emitted update is applied to all remaining steps at once (in
chunks, so temporaries stay small). When the missing components repeat with a period p (every
10th reading lost, say), the covariance recursion becomes periodic: once :math:`\hat P_t` equals
:math:`\hat P_{t-p}` (to STEADY_RTOL) the maps of the previous period are reused. Otherwise (one
model per series, or different missing components) the loop runs over time with every operation
vectorised over the batch. The smoother likewise runs with a constant gain where the filtered
covariances are steady (a backward prefix scan for a small batch). Buffers are
time-major; the returned arrays are views with the documented axis order, and covariances shared
by all series are returned as a read-only broadcast view of one ``(T, D, D)`` array.

Other array libraries. Given the arrays of another Array API library (PyTorch, JAX, CuPy,
array-api-strict; :mod:`blrkit._array_api`), :func:`kalman_filter` and :func:`rts_smoother` compute
in its namespace, on its device, and return its arrays: the plain loop over time of the prediction
and the emitted update, vectorised over the series, the log-likelihood by Cholesky, and missing
components (NaN) dropped as above; none of the shortcuts of the NumPy path (the two agree to
rounding). :func:`kalman_em` runs on NumPy arrays only.

The package: :mod:`~blrkit.algorithms.kalman.model` (the model's checks and its time-major form),
:mod:`~blrkit.algorithms.kalman.filter`, :mod:`~blrkit.algorithms.kalman.smoother`,
:mod:`~blrkit.algorithms.kalman.steady` (the steady-state scans both use) and
:mod:`~blrkit.algorithms.kalman.em`. Dask arrays are taken by the adapter :mod:`blrkit.algorithms._dask`,
which wraps these drivers in :mod:`blrkit.algorithms`.
"""

from blrkit.algorithms.kalman.em import kalman_em
from blrkit.algorithms.kalman.filter import kalman_filter
from blrkit.algorithms.kalman.model import STEADY_RTOL, TIME_VARYING_ARGUMENTS
from blrkit.algorithms.kalman.smoother import kalman_smoother, rts_smoother

__all__ = ["kalman_em", "kalman_filter", "kalman_smoother", "rts_smoother"]
