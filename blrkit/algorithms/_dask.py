r"""The drivers on Dask arrays: data beyond one machine's memory, and many series in parallel.

Two shapes of "too big" need two plans. Ridge regression with N far beyond memory needs only the
sufficient statistics :math:`X^\top X` and :math:`X^\top y` of its likelihood (Khan & Rue 2023,
Sec. 5.1: the posterior depends on the data through them alone), and both are sums over rows,
so they are chunked reductions: each chunk of rows gives its small :math:`D \times D` and
:math:`D` partial sums, which Dask adds up in a tree; no more than a few chunks are ever in memory.
The emitted ridge step then runs on the small result. A batch of Kalman problems (one model,
many series) is embarrassingly parallel along the series: each chunk of series is filtered (or
smoothed) by the NumPy driver, wherever Dask runs it.

Dask is an optional dependency (``pip install "blrkit[dask]"``): nothing here imports it until a
Dask array is passed. With a ``dask.distributed.Client`` active the work runs on its cluster.

This module is an adapter above the NumPy drivers: the drivers know nothing of Dask; :func:`on_dask` wraps
each one so that a Dask array goes to its plan here and anything else to the driver unchanged, and
:mod:`blrkit.algorithms` exports the wrapped drivers.
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from blrkit._validation import check_one_array_library
from blrkit.algorithms._common import check_n_steps
from blrkit.algorithms.em import em_gaussian_mixture as em_gaussian_mixture_numpy
from blrkit.algorithms.kalman.em import kalman_em as kalman_em_numpy
from blrkit.algorithms.kalman.filter import kalman_filter as kalman_filter_numpy
from blrkit.algorithms.kalman.model import check_model
from blrkit.algorithms.kalman.smoother import check_smoother_model
from blrkit.algorithms.kalman.smoother import rts_smoother as rts_smoother_numpy
from blrkit.algorithms.results import EMResult, KalmanFilterResult, KalmanSmootherResult
from blrkit.algorithms.ridge import check_shapes
from blrkit.algorithms.ridge import ridge as ridge_numpy

__all__ = ["em_gaussian_mixture", "is_dask_array", "kalman_em", "kalman_filter", "kalman_smoother", "on_dask",
           "ridge", "rts_smoother"]


def is_dask_array(x) -> bool:
    """True for a ``dask.array.Array``; never imports Dask (an array of it exists only if it was imported)."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(x, da.Array)


def check_whole(a, name: str, axes: tuple[int, ...], why: str) -> None:
    """Raise ``ValueError`` naming ``name`` if the Dask array ``a`` is split into chunks along any of ``axes``."""
    split = [ax % a.ndim for ax in axes if len(a.chunks[ax]) > 1]
    if split:
        fix = ", ".join(f"{ax}: -1" for ax in split)
        raise ValueError(f"{name} is chunked along axis {split[0]} (chunks {a.chunks[split[0]]}), but {why}: "
                         f"rechunk it whole along that axis, {name}.rechunk({{{fix}}})")


def _check_real(a, name: str) -> None:
    if a.dtype.kind == "c":
        raise TypeError(f"{name} must be an array of real numbers, got complex values (dtype {a.dtype})")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {a.dtype}")


# -- ridge: Gram matrix and Xᵀy as chunked reductions -------------------------------------------

def ridge_on_dask(X, y, alpha, *, noise_variance=1.0):
    """:func:`blrkit.algorithms.ridge` on Dask arrays ``X (*batch, N, D)``, ``y (*batch, N)``: a NumPy posterior."""
    import dask

    for name, a in (("X", X), ("y", y)):
        if not is_dask_array(a):
            other = "y" if name == "X" else "X"
            raise TypeError(f"{other} is a Dask array but {name} is a {type(a).__name__}: pass both as Dask arrays "
                            f"with the same row chunks, e.g. dask.array.from_array({name}, "
                            f"chunks={other}.chunks[{-2 if other == 'X' else -1}])")
        _check_real(a, name)
    for name, a in (("X", X), ("y", y)):
        if any(n != n for n in a.shape):         # NaN: chunk sizes unknown (after boolean indexing, say)
            raise ValueError(f"{name} has unknown chunk sizes (shape {a.shape}); call {name}.compute_chunk_sizes() first")
    check_shapes(X, y)
    check_whole(X, "X", (-1,), "each chunk of rows contributes its whole D x D block of XᵀX")
    # α and σ² are checked before the (possibly long) pass over the data: a stand-in of one row each
    stand_in = np.ones(X.shape[:-2] + (1, X.shape[-1])), np.zeros(y.shape[:-1] + (1,))
    ridge_numpy(*stand_in, alpha, noise_variance=noise_variance)

    # XᵀX and Xᵀy: per chunk of rows, then summed in a tree (dask's matmul over the chunked N axis)
    Xt = X.swapaxes(-1, -2).astype(float)
    G, b = dask.compute(Xt @ X.astype(float), (Xt @ y.astype(float)[..., None])[..., 0])
    if not np.isfinite(G).all():
        raise ValueError("X must be finite (no NaN or inf): its Gram matrix XᵀX, summed over the chunks, is not "
                         "(or it overflowed; rescale X)")
    if not np.isfinite(b).all():
        raise ValueError("y must be finite (no NaN or inf): Xᵀy, summed over the chunks, is not (or it overflowed)")
    # A D-row data set with the same sufficient statistics: G = V Λ Vᵀ, X̃ = Λ^½ Vᵀ, ỹ = Λ^-½ Vᵀ b, so
    # X̃ᵀX̃ = G and X̃ᵀỹ = b (b lies in the range of G: directions with λ = 0 carry none of it).
    lam, V = np.linalg.eigh(G)
    root = np.sqrt(np.clip(lam, 0.0, None))
    Vt = np.swapaxes(V, -1, -2)
    X_small = root[..., :, None] * Vt
    Vtb = (Vt @ b[..., None])[..., 0]
    y_small = np.divide(Vtb, root, out=np.zeros_like(Vtb), where=root > 0)
    return ridge_numpy(X_small, y_small, alpha, noise_variance=noise_variance)


# -- Kalman: chunks of series mapped in parallel ---------------------------------------------------

def _model_library_check(y, params: dict) -> None:
    for name, v in params.items():
        if is_dask_array(v):
            raise TypeError(f"{name} is a Dask array: the model is small and shared by every series; pass it as a "
                            f"NumPy array ({name}.compute()), and only y as a Dask array")
    check_one_array_library({"y": y, **params}, allowed={"dask": {"numpy"}})


def _series_blocks(a, n_batch: int):
    """The blocks of a Dask array chunked along its ``n_batch`` leading axes only, as an object array of
    delayed NumPy blocks over those axes."""
    blocks = a.to_delayed()
    return blocks.reshape(blocks.shape[:n_batch])


def _assemble(parts, chunks, core_shape):
    """One Dask array from an object array of delayed NumPy blocks, block ``idx`` of shape
    ``(*(chunks[k][idx[k]]), *core_shape)``."""
    import dask.array as da

    def build(prefix):
        k = len(prefix)
        if k == parts.ndim:
            shape = tuple(chunks[j][i] for j, i in enumerate(prefix)) + tuple(core_shape)
            return da.from_delayed(parts[prefix], shape=shape, dtype=float)
        return da.concatenate([build(prefix + (i,)) for i in range(parts.shape[k])], axis=k)

    return build(())


def _filter_block(y, args, kwargs):
    return kalman_filter_numpy(y, *args, **kwargs)


def kalman_filter_on_dask(y, F, Q, H, R, m0, P0, **kwargs):
    """:func:`blrkit.algorithms.kalman_filter` on a Dask ``y (*batch, T, O)`` chunked along its batch axes only."""
    import dask

    params = dict(F=F, Q=Q, H=H, R=R, m0=m0, P0=P0,
                  **{k: kwargs[k] for k in ("transition_offsets", "observation_offsets") if kwargs.get(k) is not None})
    _model_library_check(y, params)
    _check_real(y, "y")
    if y.ndim < 2:
        raise ValueError(f"y must have shape (*batch, T, O) (at least 2 dimensions), got shape {y.shape}")
    check_whole(y, "y", (-2, -1), "the filter runs along the whole of each series (time axis -2, values axis -1)")
    # the model is validated once, here, on a stand-in series (the data are checked chunk by chunk)
    mod = check_model(np.zeros(y.shape[-2:]), F, Q, H, R, m0, P0, kwargs.get("transition_offsets"),
                       kwargs.get("observation_offsets"), kwargs.get("time_varying", ()))
    if mod.batch:
        raise ValueError(f"with a Dask y, the model must be one for every series (no batch axes on F, Q, H, R, m0, "
                         f"P0 or the offsets); got the batch shape {mod.batch}")
    nb, (T, D) = y.ndim - 2, (mod.T, mod.D)
    blocks = _series_blocks(y, nb)
    run = dask.delayed(_filter_block, pure=True)
    model_args = dask.delayed((F, Q, H, R, m0, P0), pure=True), dask.delayed(kwargs, pure=True)
    parts = np.empty(blocks.shape, dtype=object)
    for idx in np.ndindex(blocks.shape):
        parts[idx] = run(blocks[idx], *model_args)
    chunks = y.chunks[:nb]
    return KalmanFilterResult(
        means=_assemble(_fields(parts, "means"), chunks, (T, D)),
        covariances=_assemble(_fields(parts, "covariances"), chunks, (T, D, D)),
        log_likelihood=_assemble(_fields(parts, "log_likelihood"), chunks, ()))


def _fields(parts, name):
    out = np.empty(parts.shape, dtype=object)
    for idx in np.ndindex(parts.shape):
        out[idx] = getattr(parts[idx], name)
    return out


def _smooth_block(means, covariances, args, kwargs):
    filt = KalmanFilterResult(means=means, covariances=covariances, log_likelihood=np.zeros(means.shape[:-2]))
    res = rts_smoother_numpy(filt, *args, **kwargs)
    return res.means, res.covariances, res.cross_covariances


def rts_smoother_on_dask(filter_result, F, Q, **kwargs):
    """:func:`blrkit.algorithms.rts_smoother` on a filter result of Dask arrays (from a Dask ``y``)."""
    import dask

    means, covs = filter_result.means, filter_result.covariances
    if not (is_dask_array(means) and is_dask_array(covs)):
        raise TypeError("filter_result holds a Dask array and a NumPy array: pass the result of kalman_filter "
                        "unchanged (all Dask, or all NumPy)")
    params = dict(F=F, Q=Q, **({"transition_offsets": kwargs["transition_offsets"]}
                               if kwargs.get("transition_offsets") is not None else {}))
    _model_library_check(means, params)
    nb = means.ndim - 2
    T, D = means.shape[-2:]
    why = "the smoother runs along the whole of each series"
    check_whole(means, "filter_result.means", (-2, -1), why)
    check_whole(covs, "filter_result.covariances", (-3, -2, -1), why)
    if covs.chunks[:nb] != means.chunks[:nb]:
        raise ValueError(f"filter_result.covariances is chunked along the series as {covs.chunks[:nb]}, its means as "
                         f"{means.chunks[:nb]}: chunk both alike (covariances.rechunk(means.chunks[:-2] + (-1, -1, -1)))")
    # the model is validated once, here (the same checks the NumPy smoother makes on every chunk)
    check_smoother_model(T, D, (), F, Q, kwargs.get("transition_offsets"), kwargs.get("time_varying", ()))
    run = dask.delayed(_smooth_block, pure=True, nout=3)
    model_args, rest = dask.delayed((F, Q), pure=True), dask.delayed(kwargs, pure=True)
    m_blocks, P_blocks = _series_blocks(means, nb), _series_blocks(covs, nb)
    outs = [np.empty(m_blocks.shape, dtype=object) for _ in range(3)]
    for idx in np.ndindex(m_blocks.shape):
        for out, part in zip(outs, run(m_blocks[idx], P_blocks[idx], model_args, rest)):
            out[idx] = part
    chunks = means.chunks[:nb]
    cross = kwargs.get("cross_covariances", False)
    return KalmanSmootherResult(
        means=_assemble(outs[0], chunks, (T, D)),
        covariances=_assemble(outs[1], chunks, (T, D, D)),
        cross_covariances=_assemble(outs[2], chunks, (T - 1, D, D)) if cross else None)


# -- EM: chunks of independent mixture problems ---------------------------------------------------

def _em_block(X, w0, m0, P0, n_steps):
    """The NumPy EM on one chunk of problems; every history with the iterate axis moved behind the batch axes."""
    res = em_gaussian_mixture_numpy(X, weights0=w0, means0=m0, precisions0=P0, n_steps=n_steps)
    nb = X.ndim - 2
    return tuple(np.moveaxis(getattr(res, k), 0, nb) for k in ("weights", "means", "precisions", "log_likelihood"))


def em_gaussian_mixture_on_dask(X, weights0, means0, precisions0, n_steps):
    """:func:`blrkit.algorithms.em_gaussian_mixture` on a Dask ``X (*batch, N, D)`` chunked along its batch axes
    only: each chunk of problems runs the NumPy driver where Dask runs it; the histories are Dask arrays."""
    import dask
    import dask.array as da

    n_steps = check_n_steps(n_steps)
    params = dict(weights0=weights0, means0=means0, precisions0=precisions0)
    for name, v in params.items():
        if is_dask_array(v):
            raise TypeError(f"{name} is a Dask array: the starting parameters are small; pass them as NumPy arrays "
                            f"({name}.compute()), and only X as a Dask array")
    check_one_array_library({"X": X, **params}, allowed={"dask": {"numpy"}})
    _check_real(X, "X")
    if X.ndim < 3:
        raise ValueError(f"a Dask X must have batch axes, (*batch, N, D) with at least one batch axis (the chunks of "
                         f"problems), got shape {X.shape}; a single problem fits in memory as a NumPy array")
    check_whole(X, "X", (-2, -1), "EM needs every observation of a problem at once (observation axis -2, values -1)")
    nb = X.ndim - 2
    N, D = X.shape[-2:]
    w0, m0, P0 = (np.asarray(a, dtype=float) for a in (weights0, means0, precisions0))
    K = w0.shape[-1] if w0.ndim else 0
    batch = X.shape[:nb]
    try:  # one start per problem, cut into the chunks of X
        w0, m0, P0 = (np.broadcast_to(a, batch + a.shape[a.ndim - k:]) for a, k in ((w0, 1), (m0, 2), (P0, 3)))
    except ValueError:
        raise ValueError(f"weights0 {w0.shape}, means0 {m0.shape} and precisions0 {P0.shape} must broadcast to the "
                         f"batch shape {batch} of X") from None
    blocks = _series_blocks(X, nb)
    offsets = [np.concatenate([[0], np.cumsum(c)]) for c in X.chunks[:nb]]
    run = dask.delayed(_em_block, pure=True, nout=4)
    outs = [np.empty(blocks.shape, dtype=object) for _ in range(4)]
    for idx in np.ndindex(blocks.shape):
        cut = tuple(slice(offsets[k][i], offsets[k][i + 1]) for k, i in enumerate(idx))
        for out, part in zip(outs, run(blocks[idx], w0[cut], m0[cut], P0[cut], n_steps)):
            out[idx] = part
    chunks, T = X.chunks[:nb], n_steps + 1
    fields = [_assemble(o, chunks, core) for o, core in zip(outs, ((T, K), (T, K, D), (T, K, D, D), (T,)))]
    return EMResult(*(da.moveaxis(f, nb, 0) for f in fields))


def kalman_em_on_dask(y, *args, **kwargs):
    """:func:`blrkit.algorithms.kalman_em` refuses a Dask ``y`` (EM needs every series at every iteration)."""
    raise TypeError("kalman_em runs on NumPy arrays, and y is a Dask array: pass y.compute(), or fit each chunk "
                    "of series on its own")


# -- the adapter ----------------------------------------------------------------------------------

def _argument(args, kwargs, position: int, name: str):
    return args[position] if len(args) > position else kwargs.get(name)


def _any_dask(*arrays) -> bool:
    # NumPy arrays (the common case) are told apart by one type check each (a loop: no generator to build)
    for a in arrays:
        if type(a) is not np.ndarray and is_dask_array(a):
            return True
    return False


def on_dask(driver, plan, arrays):
    """``driver`` wrapped so that a call whose ``arrays(args, kwargs)`` holds a Dask array runs ``plan`` instead
    (with the same arguments); any other call is the driver's, unchanged. The wrapper carries the driver's
    name, docstring and signature.

    >>> import numpy as np
    >>> double = on_dask(lambda x: 2 * x, lambda x: "a Dask plan", lambda args, kwargs: args[:1])
    >>> double(np.ones(2))
    array([2., 2.])
    """
    @functools.wraps(driver)
    def adapted(*args, **kwargs):
        if _any_dask(*arrays(args, kwargs)):
            return plan(*args, **kwargs)
        return driver(*args, **kwargs)

    return adapted


def _filter_result_arrays(args, kwargs):
    result = _argument(args, kwargs, 0, "filter_result")
    return getattr(result, "means", None), getattr(result, "covariances", None)


kalman_filter = on_dask(kalman_filter_numpy, kalman_filter_on_dask,
                        lambda args, kwargs: (_argument(args, kwargs, 0, "y"),))
rts_smoother = on_dask(rts_smoother_numpy, rts_smoother_on_dask, _filter_result_arrays)
#: The same function under the name used by pykalman's ``KalmanFilter.smooth``'s users.
kalman_smoother = rts_smoother
kalman_em = on_dask(kalman_em_numpy, kalman_em_on_dask, lambda args, kwargs: (_argument(args, kwargs, 0, "y"),))
ridge = on_dask(ridge_numpy, ridge_on_dask,
                lambda args, kwargs: (_argument(args, kwargs, 0, "X"), _argument(args, kwargs, 1, "y")))
em_gaussian_mixture = on_dask(em_gaussian_mixture_numpy, em_gaussian_mixture_on_dask,
                              lambda args, kwargs: (_argument(args, kwargs, 0, "X"),))
