"""The drivers on Dask arrays (issue 15): ridge by chunked reductions, the Kalman filter and smoother over
chunks of series, on a ``dask.distributed`` client (threads, small sizes). Skipped without Dask.

Each result is compared with the same driver on the NumPy arrays (``DASK``, the issue's 1e-10), which the
other test modules check against independent oracles; ridge also against scikit-learn directly.
"""

import numpy as np
import pytest

from algorithms.tolerances import CLOSED_FORM, DASK, assert_close
from blrkit.algorithms import kalman_em, kalman_filter, kalman_smoother, ridge, rts_smoother
from blrkit.classical.problems import random_state_space_model

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as c:
        yield c


def test_ridge_equals_numpy_and_sklearn(client, rng):
    """X chunked along N in uneven chunks: the same posterior as NumPy (DASK) and as sklearn's Ridge(σ²α)."""
    from sklearn.linear_model import Ridge

    N, D, alpha, s2 = 1_000, 6, 0.7, 2.5
    X = rng.standard_normal((N, D)) + 3.0          # a non-centred design: XᵀX far from diagonal
    y = X @ rng.standard_normal(D) + rng.standard_normal(N)
    ours = ridge(da.from_array(X, chunks=(300, D)), da.from_array(y, chunks=300), alpha, noise_variance=s2)
    assert type(ours.mean) is np.ndarray and ours.mean.shape == (D,)
    ref = ridge(X, y, alpha, noise_variance=s2)
    assert_close(ours.mean, ref.mean, DASK)
    assert_close(ours.precision, ref.precision, DASK)
    sk = Ridge(alpha=s2 * alpha, fit_intercept=False, solver="svd").fit(X, y).coef_
    assert_close(ours.mean, sk, CLOSED_FORM)


def test_ridge_with_a_singular_gram_matrix(client, rng):
    """N < D: XᵀX is singular (the D-row stand-in keeps only its range), the posterior is still exact."""
    X, y = rng.standard_normal((3, 5)), rng.standard_normal(3)
    ours = ridge(da.from_array(X, chunks=(2, 5)), da.from_array(y, chunks=2), 0.3)
    ref = ridge(X, y, 0.3)
    assert_close(ours.mean, ref.mean, DASK)
    assert_close(ours.precision, ref.precision, DASK)


def test_batched_ridge_with_per_problem_alpha(client, rng):
    X, y, alpha = rng.standard_normal((4, 200, 3)), rng.standard_normal((4, 200)), rng.uniform(0.5, 2.0, 4)
    ours = ridge(da.from_array(X, chunks=(2, 64, 3)), da.from_array(y, chunks=(2, 64)), alpha)
    ref = ridge(X, y, alpha)
    assert_close(ours.mean, ref.mean, DASK)
    assert_close(ours.precision, ref.precision, DASK)


def _model(rng, D=3, O=2):
    mod = random_state_space_model(rng, D, O)
    return mod, (mod.F, mod.Q, mod.H, mod.R, mod.m0, mod.P0)


def test_kalman_filter_and_smoother_over_chunks_of_series(client, rng):
    """40 series in chunks of 16 (uneven), with missing values that differ between series, offsets and a
    time-varying F: every output equals the NumPy driver's on the whole batch (DASK)."""
    mod, args = _model(rng)
    T = 30
    ys = mod.sample(rng, T, batch=(40,))
    ys[:5, 7] = np.nan
    ys[11, 3, 0] = np.nan
    F_t = mod.F * rng.uniform(0.9, 1.0, (T - 1, 1, 1))
    b = 0.1 * rng.standard_normal(3)
    kw = dict(transition_offsets=b, observation_offsets=rng.standard_normal(2), time_varying=("F",))
    args = (F_t,) + args[1:]
    lazy = kalman_filter(da.from_array(ys, chunks=(16, T, 2)), *args, **kw)
    assert isinstance(lazy.means, da.Array) and lazy.means.chunks[0] == (16, 16, 8)
    ref = kalman_filter(ys, *args, **kw)
    for name in ("means", "covariances", "log_likelihood"):
        assert_close(getattr(lazy, name).compute(), getattr(ref, name), DASK)
    smooth = rts_smoother(lazy, F_t, mod.Q, transition_offsets=b, time_varying=("F",), cross_covariances=True)
    assert kalman_smoother is rts_smoother
    ref_s = rts_smoother(ref, F_t, mod.Q, transition_offsets=b, time_varying=("F",), cross_covariances=True)
    for name in ("means", "covariances", "cross_covariances"):
        assert_close(getattr(smooth, name).compute(), getattr(ref_s, name), DASK)


def test_two_batch_axes(client, rng):
    mod, args = _model(rng, 2, 1)
    ys = mod.sample(rng, 20, batch=(3, 4))
    lazy = kalman_filter(da.from_array(ys, chunks=(2, 3, 20, 1)), *args)
    ref = kalman_filter(ys, *args)
    assert_close(lazy.means.compute(), ref.means, DASK)
    assert_close(lazy.log_likelihood.compute(), ref.log_likelihood, DASK)


def test_one_series_without_batch_axes(client, rng):
    mod, args = _model(rng)
    y = mod.sample(rng, 25)
    lazy = kalman_filter(da.from_array(y), *args)
    assert lazy.means.shape == (25, 3) and lazy.log_likelihood.shape == ()
    assert_close(lazy.means.compute(), kalman_filter(y, *args).means, DASK)
    assert_close(lazy.log_likelihood.compute(), kalman_filter(y, *args).log_likelihood, DASK)


# -- bad input: the argument named, and the fix -------------------------------------------------------

def test_y_chunked_along_time_names_y_and_the_rechunk(rng):
    mod, args = _model(rng)
    y = da.from_array(mod.sample(rng, 20, batch=(4,)), chunks=(2, 10, 2))
    with pytest.raises(ValueError, match=r"^y is chunked along axis 1 .*y\.rechunk\(\{1: -1\}\)"):
        kalman_filter(y, *args)


def test_X_chunked_along_its_columns_names_X_and_the_rechunk(rng):
    X, y = da.from_array(rng.standard_normal((50, 4)), chunks=(25, 2)), da.from_array(rng.standard_normal(50), chunks=25)
    with pytest.raises(ValueError, match=r"^X is chunked along axis 1 .*X\.rechunk\(\{1: -1\}\)"):
        ridge(X, y, 1.0)


def test_smoother_with_misaligned_chunks_names_the_covariances(client, rng):
    mod, args = _model(rng)
    filt = kalman_filter(da.from_array(mod.sample(rng, 10, batch=(6,)), chunks=(2, 10, 2)), *args)
    bad = type(filt)(means=filt.means.rechunk((3, 10, 3)), covariances=filt.covariances,
                     log_likelihood=filt.log_likelihood)
    with pytest.raises(ValueError, match=r"^filter_result\.covariances is chunked along the series"):
        rts_smoother(bad, mod.F, mod.Q)


@pytest.mark.parametrize("which", ["X", "y"])
def test_ridge_mixing_dask_and_numpy_is_a_type_error(which, rng):
    X, y = rng.standard_normal((50, 3)), rng.standard_normal(50)
    args = dict(X=X, y=y)
    args[which] = da.from_array(args[which])
    other = "y" if which == "X" else "X"
    with pytest.raises(TypeError, match=f"^{which} is a Dask array but {other} is a ndarray: pass both as Dask"):
        ridge(args["X"], args["y"], 1.0)


def test_a_dask_model_parameter_is_a_type_error(rng):
    mod, args = _model(rng)
    y = da.from_array(mod.sample(rng, 10, batch=(4,)), chunks=(2, 10, 2))
    with pytest.raises(TypeError, match=r"^Q is a Dask array: the model is small .* \(Q\.compute\(\)\)"):
        kalman_filter(y, mod.F, da.from_array(mod.Q), *args[2:])


def test_a_model_with_batch_axes_on_a_dask_y_is_a_value_error(rng):
    mod, args = _model(rng)
    y = da.from_array(mod.sample(rng, 10, batch=(4,)), chunks=(2, 10, 2))
    with pytest.raises(ValueError, match=r"^with a Dask y, the model must be one for every series"):
        kalman_filter(y, np.stack([mod.F] * 4), *args[1:])


def test_bad_model_is_reported_before_any_compute(rng):
    mod, args = _model(rng)
    y = da.from_array(mod.sample(rng, 10, batch=(4,)), chunks=(2, 10, 2))
    with pytest.raises(ValueError, match="^Q must be symmetric"):
        kalman_filter(y, mod.F, -mod.Q + np.triu(np.ones((3, 3)), 1), *args[2:])
    with pytest.raises(ValueError, match="^alpha must be > 0"):
        ridge(da.ones((10, 2), chunks=(5, 2)), da.ones(10, chunks=5), -1.0)


def test_non_finite_data_names_X_or_y(client):
    X, y = np.ones((20, 2)) + np.eye(20, 2), np.ones(20)
    X[13, 1] = np.nan
    with pytest.raises(ValueError, match="^X must be finite"):
        ridge(da.from_array(X, chunks=(5, 2)), da.from_array(y, chunks=5), 1.0)
    X[13, 1], y[4] = 1.0, np.inf
    with pytest.raises(ValueError, match="^y must be finite"):
        ridge(da.from_array(X, chunks=(5, 2)), da.from_array(y, chunks=5), 1.0)


def test_unknown_chunk_sizes_name_the_argument():
    X = da.ones((10, 2), chunks=(5, 2))
    X = X[X[:, 0] > 0]                      # boolean indexing: the row count is unknown until computed
    with pytest.raises(ValueError, match=r"^X has unknown chunk sizes .*X\.compute_chunk_sizes\(\)"):
        ridge(X, da.ones(10, chunks=5), 1.0)


def test_complex_dask_data_is_a_type_error():
    with pytest.raises(TypeError, match="^X must be an array of real numbers, got complex"):
        ridge(da.ones((10, 2), chunks=(5, 2)) + 0j, da.ones(10, chunks=5), 1.0)


def test_kalman_em_refuses_a_dask_y(rng):
    mod, args = _model(rng)
    with pytest.raises(TypeError, match="^kalman_em runs on NumPy arrays"):
        kalman_em(da.from_array(mod.sample(rng, 10)), *args, n_steps=1)


class _OtherArray:
    """Any Array API array that is not NumPy's (JAX, PyTorch, CuPy, array-api-strict): only its type matters."""
    __module__ = "otherlib"

    def __array_namespace__(self, api_version=None):
        raise AssertionError("not to be called")


def test_mixing_numpy_with_another_array_library_names_the_argument(rng):
    mod, args = _model(rng)
    y = mod.sample(rng, 10)
    with pytest.raises(TypeError, match=r"^H comes from otherlib \(_OtherArray\) but y from NumPy"):
        kalman_filter(y, mod.F, mod.Q, _OtherArray(), mod.R, mod.m0, mod.P0)
    with pytest.raises(TypeError, match=r"^y comes from otherlib"):
        ridge(np.ones((3, 2)), _OtherArray(), 1.0)
    filt = kalman_filter(y, *args)
    with pytest.raises(TypeError, match=r"^Q comes from otherlib"):
        rts_smoother(filt, mod.F, _OtherArray())


def test_array_api_strict_mixed_with_numpy(rng):
    xp = pytest.importorskip("array_api_strict")
    mod, args = _model(rng)
    with pytest.raises(TypeError, match=r"^F comes from array_api_strict"):
        kalman_filter(mod.sample(rng, 10), xp.asarray(mod.F), *args[1:])


def test_em_over_chunks_of_problems_equals_numpy(client, rng):
    """Six mixtures in chunks of two: every history equal to the NumPy driver's to 1e-10 (the same code per chunk)."""
    from blrkit.algorithms import em_gaussian_mixture

    centres = np.array([[-3.0, 0.0], [3.0, 1.0]])
    X = centres[rng.integers(2, size=(6, 80))] + rng.normal(size=(6, 80, 2))
    start = dict(weights0=[0.5, 0.5], means0=[[-1.0, 0.0], [1.0, 0.0]], precisions0=np.broadcast_to(np.eye(2), (2, 2, 2)))
    ours = em_gaussian_mixture(da.from_array(X, chunks=(2, 80, 2)), n_steps=12, **start)
    assert isinstance(ours.means, da.Array)
    ref = em_gaussian_mixture(X, n_steps=12, **start)
    for k in ("weights", "means", "precisions", "log_likelihood"):
        np.testing.assert_allclose(getattr(ours, k).compute(), getattr(ref, k), rtol=1e-10, atol=0)


def test_em_over_chunks_on_data_scaled_by_1e154_equals_the_unscaled_run(client, rng):
    """EM is scale-equivariant: on X·s with s = 1e154 (x xᵀ would overflow float64) and the start scaled alike, the
    chunked run gives the unscaled NumPy run's weights, means·s, precisions/s² and log-likelihoods − N·D·log s
    (to DASK: the same arithmetic on the data rescaled by a power of two, after the rounding of X·s)."""
    from blrkit.algorithms import em_gaussian_mixture

    s = 1e154
    X = np.concatenate([rng.normal(-2, 1, (4, 30, 1)), rng.normal(2, 0.5, (4, 20, 1))], axis=1)
    ref = em_gaussian_mixture(X, weights0=[0.5, 0.5], means0=[[-1.0], [1.0]], precisions0=np.ones((2, 1, 1)),
                              n_steps=6)
    big = em_gaussian_mixture(da.from_array(X * s, chunks=(2, 50, 1)), weights0=[0.5, 0.5], means0=[[-s], [s]],
                              precisions0=np.full((2, 1, 1), 1 / s**2), n_steps=6)
    assert_close(big.weights.compute(), ref.weights, DASK)
    assert_close(big.means.compute() / s, ref.means, DASK)
    assert_close(big.precisions.compute() * s * s, ref.precisions, DASK)
    assert_close(big.log_likelihood.compute(), ref.log_likelihood - 50 * np.log(s), DASK)


def test_em_with_X_chunked_along_its_observations_names_X(rng):
    from blrkit.algorithms import em_gaussian_mixture

    X = da.from_array(rng.normal(size=(4, 60, 2)), chunks=(2, 30, 2))
    with pytest.raises(ValueError, match=r"X is chunked along axis 1 .*rechunk"):
        em_gaussian_mixture(X, weights0=[0.5, 0.5], means0=[[0.0, 0.0], [1.0, 1.0]],
                            precisions0=np.broadcast_to(np.eye(2), (2, 2, 2)), n_steps=2)
    with pytest.raises(TypeError, match="weights0 is a Dask array"):
        em_gaussian_mixture(X.rechunk((2, -1, -1)), weights0=da.from_array(np.array([0.5, 0.5])),
                            means0=[[0.0, 0.0], [1.0, 1.0]], precisions0=np.broadcast_to(np.eye(2), (2, 2, 2)),
                            n_steps=2)
