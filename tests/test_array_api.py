"""blrkit._array_api: the namespace of a call, and SciPy's special functions for namespaces without them.

The special functions off NumPy are checked against SciPy's on NumPy arrays over wide ranges: digamma
and log Γ to 2e-14 relative (or absolute near their zeros; their series leave errors of a few ulps
of the result, and near a zero only the absolute error is meaningful), expit to 1e-15 relative where
its value is a normal number, logsumexp to 1e-15 on values that overflow exp.
"""

import numpy as np
import pytest
import scipy.special

from blrkit._array_api import array_library, array_namespace, digamma, expit, gammaln, logsumexp

xp = pytest.importorskip("array_api_strict")


def back(a):
    return np.from_dlpack(a)


@pytest.mark.parametrize("ours, scipys", [(digamma, scipy.special.digamma), (gammaln, scipy.special.gammaln)],
                         ids=["digamma", "gammaln"])
def test_special_functions_off_numpy_match_scipy(ours, scipys):
    x = np.concatenate([np.geomspace(1e-6, 1e8, 4000), np.linspace(0.1, 20.0, 4000), [1.4616321449683623, 2.0, 1.0]])
    got, want = back(ours(xp.asarray(x))), scipys(x)
    np.testing.assert_allclose(got, want, rtol=2e-14, atol=2e-14)
    assert ours(x) is not None and np.array_equal(ours(x), want)  # NumPy keeps SciPy's own


def test_expit_off_numpy_matches_scipy_for_both_signs():
    z = np.linspace(-700.0, 700.0, 14001)
    got, want = back(expit(xp.asarray(z))), scipy.special.expit(z)
    normal = want > np.finfo(float).tiny
    np.testing.assert_allclose(got[normal], want[normal], rtol=1e-15, atol=0)
    assert np.all(got[~normal] <= np.finfo(float).tiny)


def test_logsumexp_does_not_overflow():
    v = np.array([[1000.0, 1000.0 + np.log(3.0)], [-5.0, 2.0]])
    np.testing.assert_allclose(back(logsumexp(xp.asarray(v), xp)), scipy.special.logsumexp(v, axis=-1), rtol=1e-15)
    np.testing.assert_allclose(logsumexp(v, np, keepdims=True), scipy.special.logsumexp(v, axis=-1, keepdims=True),
                               rtol=1e-15)


def test_namespace_of_numpy_numbers_and_lists_is_numpy_itself():
    assert array_namespace(a=np.ones(2), b=1.0, c=[1.0, 2.0], d=np.float64(1.0), e=None) is np
    assert array_library([1.0]) is None and array_library(np.ones(1)) == "numpy"


def test_namespace_of_another_library_and_a_mix():
    a = xp.asarray([1.0])
    assert array_namespace(a=a, rho=0.5) is xp
    with pytest.raises(TypeError, match=r"^b comes from array_api_strict \(Array\) but a from NumPy: .*np\.asarray\(b\)"):
        array_namespace(a=np.ones(1), b=a)
