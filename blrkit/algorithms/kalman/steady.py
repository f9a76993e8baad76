r"""The steady state of the Kalman recursions: where the predicted (or smoothed) covariance stops changing,
the mean recursion is affine with constant maps and is solved by a prefix scan instead of a loop.

:func:`steady_scan` fills a steady segment of the filter, :func:`smooth_steady_run` a steady run of the
RTS pass, both with :func:`affine_scan` (Hillis–Steele, in chunks of at most
:data:`blrkit.algorithms.kalman.model.CHUNK_ELEMENTS` floats).
"""

from __future__ import annotations

import numpy as np

from blrkit.algorithms.kalman import model
from blrkit.algorithms.kalman.model import TV_NAME, gaussian_logpdf, steady_rtol, sym, update

__all__ = ["affine_scan", "smooth_steady_run", "steady_scan"]

def steady_scan(mod, t, t_end, K, A, m_t, P_pred, means, covs, loglik):
    r"""Fill steps t+1..t_end−1 (complete, constant model) once P̂ is steady at step t (in place).

    The predicted means obey :math:`\hat m_{t+1} = F m_t + b_t` and
    :math:`\hat m_{s+1} = A \hat m_s + F K (y_s - d_s) + b_s` with :math:`A = F(I - KH)`: write
    :math:`\hat m_{t+1}` and the inputs into the output and scan. Then the emitted update, with the
    steady :math:`\hat P` broadcast over time, gives the filtered means, the (constant) covariance and
    the innovations for the log-likelihood.
    """
    F, H, R = mod.F, mod.H, mod.R
    tail = means[t + 1:t_end]
    n = len(tail)
    step = max(1, model.CHUNK_ELEMENTS // max(1, tail[0].size))

    def offsets(name, s0, s1):
        a = getattr(mod, name)
        if a is None:
            return None
        return a[s0:s1] if name in {"b", "d"} and TV_NAME[name] in mod.tv else a

    tail[0] = m_t @ F.T
    if mod.b is not None:
        tail[0] += mod.at("b", t)
    FKt = (F @ K).T
    for j in range(1, n, step):
        s0, s1 = t + j, t + min(n, j + step)
        # inputs F K (y_s − d_s) + b_s for s = t+1 .. t_end−2
        u = mod.y[s0:s1]
        d = offsets("d", s0, s1)
        if d is not None:
            u = u - d
        tail[j:j + (s1 - s0)] = u @ FKt
        b = offsets("b", s0, s1)
        if b is not None:
            tail[j:j + (s1 - s0)] += b
    affine_scan(A, tail)
    P = P_pred
    for j in range(0, n, step):
        s0, s1 = t + 1 + j, t + 1 + min(n, j + step)
        d = offsets("d", s0, s1)
        # the emitted BLR update on a chunk of steps at once
        m, P, _, v, C = update(tail[j:j + (s1 - s0)], P_pred, mod.y[s0:s1], H, R, 0.0 if d is None else d)
        tail[j:j + (s1 - s0)] = m
        loglik += gaussian_logpdf(v, C).sum(axis=0)
    covs[t + 1:t_end] = P




def affine_scan(A, x):
    r"""In place along axis 0: :math:`x_j \leftarrow \sum_{i \le j} A^{j-i} x_i`, i.e. the recursion
    :math:`x_j = A x_{j-1} + b_j` from the inputs :math:`b_j = x_j`.

    Hillis–Steele inclusive scan: after the pass with offset k, x_j sums the last 2k terms; each pass
    adds :math:`A^k x_{j-k}`, in chunks taken from the end backwards (so every read sees values not
    yet updated in this pass), each chunk one matrix product.
    """
    n = x.shape[0]
    step = max(1, model.CHUNK_ELEMENTS // max(1, x[0].size))
    power, offset = A.T, 1
    while offset < n:
        for end in range(n, offset, -step):
            start = max(offset, end - step)
            # x_j += A^offset x_{j−offset}; the product is formed before the in-place add
            x[start:end] += x[start - offset:end - offset] @ power
        power = power @ power
        offset *= 2
    return x


def smooth_steady_run(m_f, P, F, Q, b, tv, r, t, ms, Ps, cross):
    r"""Steps t, t−1, …, r of the RTS pass where :math:`P_s = P` and :math:`F, Q` are constant (in place).

    :math:`G` and :math:`\hat P` are then constant; the covariance recursion is stepped until
    :math:`P^s` stops changing (to STEADY_RTOL), then repeated. The means obey the backward affine
    recursion :math:`m^s_s = c_s + G m^s_{s+1}`, :math:`c_s = m_s - G(F m_s + b_s)`: the inputs are
    written at once and, for a small batch with a stable :math:`G`, solved by the prefix scan on the
    time-reversed view; otherwise stepped with one matrix product per step.
    """
    D = P.shape[-1]
    FP = F @ P
    # P̂ = F P Fᵀ + Q, G = P Fᵀ P̂⁻¹
    P_pred = FP @ F.T + Q
    G = np.linalg.solve(P_pred, FP).T
    Gt = G.T
    for s in range(t, r - 1, -1):
        # P^s_s = P + G (P^s_{s+1} − P̂) Gᵀ, symmetrised
        Ps[s] = sym(P + G @ (Ps[s + 1] - P_pred) @ Gt)
        if np.max(np.abs(Ps[s] - Ps[s + 1])) <= steady_rtol(Ps.dtype) * np.max(np.abs(Ps[s])):
            Ps[r:s] = Ps[s]
            break
    if cross is not None:
        # Cov(x_{s+1}, x_s | y) = P^s_{s+1} Gᵀ
        np.matmul(Ps[r + 1:t + 2], Gt, out=cross[r:t + 1])
    # c_s = m_s (I − G F)ᵀ − b_s Gᵀ, written into the output, in chunks
    W = (np.eye(D) - G @ F).T
    run = ms[r:t + 1]
    step = max(1, model.CHUNK_ELEMENTS // max(1, run[0].size))
    for j in range(0, len(run), step):
        sl = slice(j, j + step)
        run[sl] = m_f[r + j:r + j + len(run[sl])] @ W
        if b is not None:
            run[sl] -= (b[r + j:r + j + len(run[sl])] if "transition_offsets" in tv else b) @ Gt
    rev = run[::-1]
    # m^s_t = c_t + G m^s_{t+1}
    rev[0] += ms[t + 1] @ Gt
    small = rev[0].size <= model.SCAN_MAX_BATCH_ELEMENTS
    if small and np.max(np.abs(np.linalg.eigvals(G))) < 1.0:
        affine_scan(G, rev)
    else:
        for j in range(1, len(rev)):
            # m^s_s = c_s + G m^s_{s+1}
            rev[j] += rev[j - 1] @ Gt
