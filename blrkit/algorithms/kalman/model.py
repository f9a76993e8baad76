r"""The state-space model of the Kalman package: its checks, its time-major form and the small
helpers every pass shares (a module made for sharing inside :mod:`blrkit.algorithms.kalman`).

The tunables :data:`CHUNK_ELEMENTS` and :data:`SCAN_MAX_BATCH_ELEMENTS` are read from this module at
call time by the filter, the smoother and the steady-state passes (so one assignment here changes all).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.linalg import solve_triangular

from blrkit._array_api import array_library, array_namespace, device, to_numpy
from blrkit._validation import as_float_array, cholesky_succeeds, reject_complex
from blrkit.algorithms._generated.kalman_update import kalman_update
from blrkit.algorithms._namespace import as_dtype

#: The predicted covariance is steady when max|P̂_t − P̂_{t−1}| ≤ STEADY_RTOL · max|P̂_t|: a few ulps (of float64;
#: :func:`steady_rtol` gives the same number of ulps of float32).
STEADY_RTOL = 1e-15


def steady_rtol(dtype) -> float:
    """:data:`STEADY_RTOL` in ulps of ``dtype``: 1e-15 for float64, ~5.4e-7 for float32 (whose recursion settles
    to its own rounding, never to float64's)."""
    return STEADY_RTOL * float(np.finfo(dtype).eps / np.finfo(np.float64).eps)

#: The arguments that may carry a time axis, in the order of the signature.
TIME_VARYING_ARGUMENTS = ("F", "Q", "H", "R", "transition_offsets", "observation_offsets")

LOG_2PI = float(np.log(2 * np.pi))

#: Temporaries of the vectorised passes are bounded by this many floats (chunks over time).
CHUNK_ELEMENTS = 1 << 14

#: In a steady segment the prefix scan is used while (series × D) stays below this; above it, the
#: time loop is already vectorised over enough series and a scan's O(T log T) work would cost more.
SCAN_MAX_BATCH_ELEMENTS = 256

#: The longest period of a repeating missing-data pattern recognised by the periodic steady state.
RING = 64

#: The model's short names of the offsets and their argument names.
TV_NAME = {"b": "transition_offsets", "d": "observation_offsets"}


@dataclass(frozen=True)
class Model:
    """The validated model, time-major: ``y`` and ``observed`` ``(T, *ybatch, O)`` (``observed`` None
    when nothing is missing); a time-varying argument has its time axis first."""

    y: np.ndarray
    observed: np.ndarray | None
    F: np.ndarray
    Q: np.ndarray
    H: np.ndarray
    R: np.ndarray
    m0: np.ndarray
    P0: np.ndarray
    b: np.ndarray | None
    d: np.ndarray | None
    tv: frozenset
    T: int
    D: int
    O: int
    batch: tuple
    cov_batch: tuple

    def astype(self, xp, dtype) -> Model:
        """The same model with its floating arrays in ``dtype`` (float32 data: a float32 run)."""
        cast = {k: as_dtype(xp, dtype, getattr(self, k)) for k in ("y", "F", "Q", "H", "R", "m0", "P0", "b", "d")}
        return replace(self, **cast)

    def at(self, name, t):
        """The argument ``name`` at time ``t`` (itself when not time-varying)."""
        a = getattr(self, name)
        return a[t, ...] if TV_NAME.get(name, name) in self.tv else a


def in_namespace(xp, **named):
    """The arguments ``named``, with lists and Python numbers given beside another library's arrays
    turned into that library's float64 arrays (on their device); arrays and None unchanged."""
    like = next(v for v in named.values() if array_library(v) not in (None, "numpy"))
    out = {}
    for name, v in named.items():
        if v is not None and array_library(v) is None:
            try:
                v = xp.asarray(v, dtype=xp.float64, device=device(like))
            except (TypeError, ValueError):
                raise TypeError(f"{name} must be an array of real numbers, got {type(v).__name__}") from None
        out[name] = v
    return out


def check_time_varying(time_varying, allowed=TIME_VARYING_ARGUMENTS):
    if isinstance(time_varying, str):
        time_varying = (time_varying,)
    tv = frozenset(time_varying)
    unknown = tv - set(allowed)
    if unknown:
        raise ValueError(f"time_varying names arguments among {allowed}; got {sorted(unknown)}")
    return tv


def widens(shape, batch):
    """Would broadcasting ``shape`` against ``batch`` change ``batch`` (or fail)?"""
    try:
        return np.broadcast_shapes(shape, batch) != tuple(batch)
    except ValueError:
        return True


def _check_spd_steps(a, name, tv, rtol=1e-10):
    """Symmetric positive definite in the last two axes; name the time step (axis 0 if ``tv``)."""
    if not isinstance(a, np.ndarray):
        # another library: checked in its namespace; a failure is located on a host copy, for the message
        xp = array_namespace(**{name: a})
        scale = max(float(xp.max(xp.abs(a))) if 0 not in a.shape else 0.0, 1.0)
        if not bool(xp.any(xp.abs(a - a.mT) > rtol * scale)) and cholesky_succeeds(a):
            return
        _check_spd_steps(to_numpy(a), name, tv, rtol)
        raise ValueError(f"{name} must be symmetric positive definite")  # NumPy accepted what the library refused
    scale = max(float(np.max(np.abs(a), initial=0.0)), 1.0)
    asym = (np.abs(a - np.swapaxes(a, -1, -2)) > rtol * scale).any(axis=(-1, -2))
    bad_what = "symmetric"
    bad = asym
    if not asym.any():
        try:
            np.linalg.cholesky(a)
            return
        except np.linalg.LinAlgError:
            bad_what = "symmetric positive definite"
            bad = np.zeros(a.shape[:-2], dtype=bool)
            for idx in np.ndindex(*a.shape[:-2]):
                try:
                    np.linalg.cholesky(a[idx])
                except np.linalg.LinAlgError:
                    bad[idx] = True
                    break
    idx = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
    where = ""
    if tv:
        where = f" (not at time step {idx[0]}" + (f", batch index {idx[1:]})" if idx[1:] else ")")
    elif idx:
        where = f" (not at batch index {idx})"
    raise ValueError(f"{name} must be {bad_what}{where}")


def check_array(x, name, trailing, T_len, tv, ybatch, what, *, spd=False, public_name=None):
    """Validate an argument with ``trailing`` core axes; a time axis first if ``public_name`` is in ``tv``.

    Returns the (time-major) array and its batch shape.
    """
    key = public_name or name
    k = len(trailing)
    timed = key in tv
    a = as_float_array(x, name, min_ndim=k + timed)
    shape = tuple(a.shape)
    dims = ", ".join(map(str, trailing))
    if shape[a.ndim - k:] != trailing:
        form = f"(*batch, {T_len}, {dims})" if timed else f"(*batch, {dims})"
        raise ValueError(f"{name} must have shape {form}, got {shape}")
    if timed:
        if shape[-k - 1] != T_len:
            raise ValueError(f"{name} is declared time-varying: its axis {-k - 1} must have length {what} = {T_len} "
                             f"(from y), got {shape[-k - 1]} (shape {shape})")
        a = array_namespace(**{name: a}).moveaxis(a, -k - 1, 0)
        batch_shape = tuple(a.shape[1:a.ndim - k])
    else:
        batch_shape = shape[:a.ndim - k]
        if batch_shape and batch_shape[-1] == T_len and T_len > 1 and widens(batch_shape, ybatch):
            raise ValueError(
                f"{name} has shape {shape}: its axis {-k - 1} has the length of a time axis ({what} = {T_len}) but {key!r} is not in "
                f"time_varying, and as a batch axis it does not match y's batch shape {tuple(ybatch)}; declare a time "
                f"axis with time_varying=(..., {key!r}), or give y the batch axis for a batch of models")
    if spd:
        _check_spd_steps(a, name, timed)
    return a, batch_shape


def check_diverged(t: int, m_pred: np.ndarray, P_pred: np.ndarray, xp=np) -> None:
    """Raise ``ValueError`` if the prediction for step ``t`` overflowed: the model diverged."""
    if not (bool(xp.all(xp.isfinite(P_pred))) and bool(xp.all(xp.isfinite(m_pred)))):
        what = "covariance" if not bool(xp.all(xp.isfinite(P_pred))) else "mean"
        raise ValueError(f"the model diverged at step {t}: the predicted {what} overflowed (not finite); "
                         "F amplifies a direction of the state faster than H and R observe it")


def _observations(y):
    """``y`` time-major ``(T, *batch, O)`` with NaN for masked entries (not copied unless masked), and
    the mask of observed entries."""
    if y is None:
        raise TypeError("y is required: got None, expected an array of real numbers")
    reject_complex(y, "y")
    if np.ma.isMaskedArray(y):
        try:
            y = np.ma.filled(np.ma.asarray(y, dtype=float), np.nan)
        except (TypeError, ValueError):
            raise TypeError(f"y must be an array of real numbers, got {type(y).__name__}") from None
    xp = array_namespace(y=y)
    if xp is not np:
        # another library: a float64 copy in its namespace (inf refused there), NaN marking the missing entries
        a = xp.moveaxis(as_float_array(y, "y", allow_nan=True), -2, 0) if getattr(y, "ndim", 0) >= 2 else None
        if a is None:
            raise ValueError(f"y must have shape (*batch, T, O) (at least 2 dimensions), got shape "
                             f"{tuple(getattr(y, 'shape', ()))}")
        observed = ~xp.isnan(a)
        return a, (None if bool(xp.all(observed)) else observed)
    try:
        a = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"y must be an array of real numbers, got {type(y).__name__}") from None
    if a.ndim < 2:
        raise ValueError(f"y must have shape (*batch, T, O) (at least 2 dimensions), got shape {a.shape}")
    if np.isfinite(a).all():  # one pass in the common case: nothing missing
        return np.moveaxis(a, -2, 0), None
    if np.isinf(a).any():
        raise ValueError("y must not contain inf")
    observed = ~np.isnan(a)
    return np.moveaxis(a, -2, 0), np.moveaxis(observed, -2, 0)


def cov_batch(observed, F, Q, H, R, P0, tv=frozenset()):
    """Batch shape of the covariances: the model's, and the series' own when their missing
    components differ."""
    shapes = [tuple(a.shape[(1 if n in tv else 0):a.ndim - 2]) for n, a in zip("FQHR", (F, Q, H, R))]
    cb = np.broadcast_shapes(*shapes, tuple(P0.shape[:-2]))
    if observed is None:
        return cb
    xp = array_namespace(observed=observed)
    flat = series_flat(observed)
    if flat.shape[1] > 1 and not bool(xp.all(flat == flat[:, :1, :])):
        cb = np.broadcast_shapes(cb, tuple(observed.shape[1:-1]))
    return cb


def series_flat(observed):
    """The observed mask ``(T, *batch, O)`` as ``(T, series, O)``."""
    T, O = observed.shape[0], observed.shape[-1]
    return array_namespace(observed=observed).reshape(observed, (T, -1, O))


def check_model(y, F, Q, H, R, m0, P0, transition_offsets, observation_offsets, time_varying,
                 names=("F", "Q", "H", "R", "m0", "P0")):
    nF, nQ, nH, nR, nm0, nP0 = names
    tv = check_time_varying(time_varying)
    m0 = as_float_array(m0, nm0, min_ndim=1)
    D = m0.shape[-1]
    # D is the length of m0; when F, Q and P0 all agree on another D, m0 is the odd one out: name it
    others = {_square_size(a) for a in (F, Q, P0)}
    if len(others) == 1 and None not in others and others != {D}:
        raise ValueError(f"{nm0} must have D = {others.pop()} states on its last axis, the size of {nF}, {nQ} and "
                         f"{nP0}, got shape {tuple(m0.shape)}")
    y, observed = _observations(y)
    T, O = y.shape[0], y.shape[-1]
    ybatch = tuple(y.shape[1:-1])
    if T == 0 or O == 0 or D == 0:
        raise ValueError(f"need T ≥ 1 observations of O ≥ 1 values and D ≥ 1 states; got y with T = {T}, O = {O}, "
                         f"and {nm0} {tuple(m0.shape)}")
    trans, obs = "T − 1", "T"
    F, Fb = check_array(F, nF, (D, D), T - 1, tv, ybatch, trans, public_name="F")
    H, Hb = check_array(H, nH, (O, D), T, tv, ybatch, obs, public_name="H")
    Q, Qb = check_array(Q, nQ, (D, D), T - 1, tv, ybatch, trans, spd=True, public_name="Q")
    R, Rb = check_array(R, nR, (O, O), T, tv, ybatch, obs, spd=True, public_name="R")
    P0 = as_float_array(P0, nP0, min_ndim=2)
    if tuple(P0.shape[-2:]) != (D, D):
        raise ValueError(f"{nP0} must have shape (*batch, {D}, {D}) like {nm0}, got {tuple(P0.shape)}")
    _check_spd_steps(P0, nP0, False)
    shapes = {"y": ybatch, nF: Fb, nQ: Qb, nH: Hb, nR: Rb, nm0: tuple(m0.shape[:-1]), nP0: tuple(P0.shape[:-2])}
    b = d = None
    if transition_offsets is not None:
        b, shapes["transition_offsets"] = check_array(transition_offsets, "transition_offsets", (D,), T - 1, tv,
                                                       ybatch, trans)
    if observation_offsets is not None:
        d, shapes["observation_offsets"] = check_array(observation_offsets, "observation_offsets", (O,), T, tv,
                                                        ybatch, obs)
    try:
        batch = np.broadcast_shapes(*shapes.values())
    except ValueError:
        raise ValueError(f"the batch shapes of the arguments do not broadcast: {shapes}") from None
    nb = len(batch)
    y = pad_time_major(y, nb, 1)
    observed = None if observed is None else pad_time_major(observed, nb, 1)
    F, Q, H, R = (pad_time_major(a, nb, 2) if n in tv else a for n, a in zip("FQHR", (F, Q, H, R)))
    if b is not None and "transition_offsets" in tv:
        b = pad_time_major(b, nb, 1)
    if d is not None and "observation_offsets" in tv:
        d = pad_time_major(d, nb, 1)
    return Model(y=y, observed=observed, F=F, Q=Q, H=H, R=R, m0=m0, P0=P0, b=b, d=d, tv=tv, T=T, D=D, O=O,
                  batch=batch, cov_batch=cov_batch(observed, F, Q, H, R, P0, tv))


def _square_size(a):
    """The size D of ``a``'s trailing (D, D) matrices read from its shape alone (no conversion), or None."""
    try:
        shape = np.shape(a)
    except (TypeError, ValueError):  # ragged: its own check names it
        return None
    return shape[-1] if len(shape) >= 2 and shape[-1] == shape[-2] else None


def batch_major(a, batch, core):
    """A time-major ``(T, *b, *core)`` buffer as the ``(*batch, T, *core)`` view the results promise
    (a read-only broadcast view where ``b`` is narrower than ``batch``)."""
    xp = array_namespace(a=a)
    v = xp.moveaxis(a, 0, -core - 1)
    if tuple(v.shape[:-core - 1]) != tuple(batch):
        v = xp.broadcast_to(v, tuple(batch) + tuple(v.shape[-core - 1:]))
    return v


def unbroadcast(a, n_batch):
    """The stored array behind a broadcast view: batch axes of stride 0 reduced to length 1."""
    idx = tuple(slice(0, 1) if (s == 0 and n > 1) else slice(None) for s, n in zip(a.strides[:n_batch],
                                                                                   a.shape[:n_batch]))
    return a[idx]


def pad_time_major(a, n_batch, core):
    """Give a time-major ``(T, *b, *core)`` array ``n_batch`` batch axes (length-1 axes after time),
    so that it right-aligns with the other arguments when broadcast."""
    own = a.ndim - 1 - core
    if own >= n_batch:
        return a
    return array_namespace(a=a).reshape(a, tuple(a.shape[:1]) + (1,) * (n_batch - own) + tuple(a.shape[1:]))


def matvec(M, x):
    """:math:`M x` over leading axes; one matrix product when ``M`` is a single matrix."""
    if M.ndim == 2:
        return x @ M.T
    return (M @ x[..., None])[..., 0]


def sym(a):
    return 0.5 * (a + a.mT)


def update(m_pred, P_pred, y, H, R, d):
    """The emitted BLR step :func:`~blrkit.algorithms._generated.kalman_update.kalman_update` (Joseph's form),
    its covariance symmetrised: ``(m, P, K, v, C)``. Joseph's form keeps P positive definite, but its two
    triangles differ by rounding (a few ulps: ~1e-7 relative in float32); ½(P + Pᵀ) makes P exactly symmetric, so
    that the next prediction and every later factorisation read the same matrix whatever triangle they use."""
    m, P, K, v, C = kalman_update(m_pred, P_pred, y, H, R, d)
    return m, sym(P), K, v, C


def check_overflow(xp, what: str, *arrays) -> None:
    """Every output of the filter or smoother finite (the inputs were): else the model's scale overflowed float64
    (F P Fᵀ, H P Hᵀ of entries beyond ~1e154): ``ValueError`` saying so, not NaN. One pass over the outputs."""
    if not all(bool(xp.all(xp.isfinite(a))) for a in arrays):
        raise ValueError(f"the Kalman {what} overflowed (a mean, covariance or log-likelihood is not finite): the "
                         "model's scale (F, Q, H, R, P0 or y, beyond ~1e154 where their products overflow float64) "
                         "is too large; rescale the model")


def gaussian_logpdf(v, C, xp=np):
    """log N(v; 0, C) over leading axes, by Cholesky: −½ (vᵀC⁻¹v + log det C + O log 2π).

    One shared C (O, O) is factorised once and one triangular solve serves every v (the v's as the
    columns of its right-hand side). ``xp``: the namespace of ``v`` and ``C``.
    """
    L = xp.linalg.cholesky(C)
    O = v.shape[-1]
    # log det C = 2 Σ log L_ii
    logdet = 2.0 * xp.sum(xp.log(xp.linalg.diagonal(L)), axis=-1)
    if C.ndim == 2:
        # z = L⁻¹v for every v at once: L z = v, the v's as columns
        flat = xp.reshape(v, (-1, O))
        if xp is np:
            z = solve_triangular(L, flat.T, lower=True, check_finite=False).T
        else:
            z = xp.linalg.solve(L, flat.T).T
        z = xp.reshape(z, v.shape)
    else:
        z = xp.linalg.solve(L, v[..., None])[..., 0]
    return -0.5 * (xp.sum(z * z, axis=-1) + logdet + O * LOG_2PI)
