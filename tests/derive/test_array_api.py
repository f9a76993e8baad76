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

@pytest.mark.parametrize("name", list(RECIPES))
def test_emitted_step_on_another_array_library(name, other_library, rng):
    lib = other_library
    make_kwargs, expected = CASES[name](rng)
    recipe = RECIPES[name]
    kwargs = {k: lib.convert(v) for k, v in make_kwargs().items()}
    got = run(generated(recipe), recipe, lambda: kwargs)
    for key, want in expected.items():
        assert isinstance(got[key], lib.array_type), (name, key, type(got[key]))
        assert_close(lib.back(got[key]), want, ONE_STEP, err_msg=f"{name} {lib.name} {key}")


def test_mixing_numpy_with_another_library_names_the_argument(rng):
    xp = pytest.importorskip("array_api_strict")
    step = generated(RECIPES["kalman_update"])
    m, P = np.zeros(2), np.eye(2)
    with pytest.raises(TypeError, match=r"^H comes from array_api_strict \(Array\) but m_pred from NumPy"):
        step(m, P, np.zeros(1), xp.asarray([[1.0, 0.0]]), np.eye(1), np.zeros(1))


#: the elementwise steps with a ρ argument, named rather than computed so that collecting this module derives
#: nothing (a derivation takes seconds of SymPy); the next test checks the list against the derivations
ELEMENTWISE_WITH_RHO = ("diagonal_newton", "bernoulli_exact", "bayesbinn", "dropout", "dropout_noise", "ogn", "vogn",
                        "vogn_improved", "rmsprop", "adam", "ivon")


def test_the_float_rho_cases_are_every_elementwise_step_with_rho():
    derived = [n for n, r in RECIPES.items() if r.derive().elementwise
               and any(a.name == "rho" for a in r.derive().arguments)]
    assert sorted(ELEMENTWISE_WITH_RHO) == sorted(derived)


@pytest.mark.parametrize("name", ELEMENTWISE_WITH_RHO)
def test_python_float_rho_beside_another_library(name, other_library, rng):
    """An elementwise step keeps a Python-float ρ a float (its arithmetic is a scalar's): the step must not
    hand it to an xp function (``xp.sqrt(1 - (1 - rho)**t)`` failed on array-api-strict and PyTorch). With
    every problem at the same ρ, the result equals the NumPy step's with that ρ."""
    lib = other_library
    make_kwargs, _ = CASES[name](rng)
    recipe = RECIPES[name]
    want = run(generated(recipe), recipe, lambda: dict(make_kwargs(), rho=0.3))  # fresh draws for each run
    got = run(generated(recipe), recipe, lambda: {k: lib.convert(v) for k, v in dict(make_kwargs(), rho=0.3).items()})
    for key, value in want.items():
        assert isinstance(got[key], lib.array_type), (name, key)
        assert_close(lib.back(got[key]), value, ONE_STEP, err_msg=f"{name} {lib.name} {key}")
