"""Every emitted step on arrays that are not NumPy's: array-api-strict always, PyTorch when installed.

array-api-strict implements the Python Array API standard and nothing else (no ``np.swapaxes``, no
``.reshape`` method, no silent mixing with NumPy arrays), so a NumPy-only idiom in an emitted step
fails here. Each recipe's textbook case from ``test_numeric`` is run with its arrays converted to the
other library; the user's callables (gradients, Hessians) stay NumPy functions behind a converting
wrapper, as a user's own code would be. The outputs must come back as that library's arrays and
equal the separately written textbook step to ``ONE_STEP``: the same float64 arithmetic in
another library, so the textbook tolerance holds.
"""

import numpy as np
import pytest

from blrkit.derive import RECIPES

from .test_numeric import CASES, generated, run
from .tolerances import ONE_STEP, assert_close

xp_strict = pytest.importorskip("array_api_strict")


def _library(name):
    if name == "array_api_strict":
        return xp_strict.asarray, lambda a: np.from_dlpack(a), type(xp_strict.asarray(0.0))
    torch = pytest.importorskip("torch")
    return (lambda a: torch.asarray(a, dtype=torch.float64 if a.dtype.kind == "f" else None),
            lambda a: a.numpy(), torch.Tensor)


def _convert(value, to, back, array_type):
    """NumPy arrays → the library; callables → NumPy functions behind a converting wrapper."""
    if isinstance(value, np.ndarray):
        return to(value)
    if callable(value) and not isinstance(value, np.random.Generator):
        def wrapped(*args):
            out = value(*(back(a) if isinstance(a, array_type) else a for a in args))
            return tuple(to(np.asarray(o)) for o in out) if isinstance(out, tuple) else to(np.asarray(out))
        return wrapped
    return value


@pytest.mark.parametrize("library", ["array_api_strict", "torch"])
@pytest.mark.parametrize("name", list(RECIPES))
def test_emitted_step_on_another_array_library(name, library, rng):
    to, back, array_type = _library(library)
    make_kwargs, expected = CASES[name](rng)
    recipe = RECIPES[name]
    kwargs = {k: _convert(v, to, back, array_type) for k, v in make_kwargs().items()}
    got = run(generated(recipe), recipe, lambda: kwargs)
    for key, want in expected.items():
        assert isinstance(got[key], array_type), (name, key, type(got[key]))
        assert_close(back(got[key]), want, ONE_STEP, err_msg=f"{name} {library} {key}")


def test_mixing_numpy_with_another_library_names_the_argument(rng):
    step = generated(RECIPES["kalman_update"])
    m, P = np.zeros(2), np.eye(2)
    with pytest.raises(TypeError, match=r"^H comes from array_api_strict \(Array\) but m_pred from NumPy"):
        step(m, P, np.zeros(1), xp_strict.asarray([[1.0, 0.0]]), np.eye(1), np.zeros(1))
