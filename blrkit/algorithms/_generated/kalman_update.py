# PROVISIONAL: replaced by python -m blrkit.derive.emit
"""Kalman measurement update, one BLR step with rho = 1, gain form (Khan & Rue 2023, Sec. 5.1)."""

import numpy as np


def kalman_update(m_pred, P_pred, y, H, R):
    Ht = np.swapaxes(H, -1, -2)
    # v = y - H m_pred
    v = y - (H @ m_pred[..., None])[..., 0]
    HP = H @ P_pred
    # C = H P_pred H^T + R
    C = HP @ Ht + R
    # K = P_pred H^T C^{-1}
    K = np.swapaxes(np.linalg.solve(C, HP), -1, -2)
    # m = m_pred + K v
    m = m_pred + (K @ v[..., None])[..., 0]
    # P = (I - K H) P_pred (I - K H)^T + K R K^T
    IKH = np.eye(P_pred.shape[-1]) - K @ H
    P = IKH @ P_pred @ np.swapaxes(IKH, -1, -2) + K @ R @ np.swapaxes(K, -1, -2)
    return m, P, K, v, C
