"""Choices that make no sense are refused with a ValueError that says why; approximations compose."""

import pytest
import sympy as sp
from sympy import MatrixSymbol

from blrkit.derive import APPROXIMATIONS, RECIPES, ExpressionLoss, OracleLoss, derive
from blrkit.derive.conjugate import Likelihood, Y, I
from blrkit.derive.losses import D


def test_fixed_covariance_needs_a_gaussian():
    with pytest.raises(ValueError, match="applies to: .*gaussian"):
        derive("bernoulli", approximations=["fixed-covariance"])


def test_oracle_loss_on_a_conjugate_family():
    with pytest.raises(ValueError, match="needs a Gaussian candidate"):
        derive("beta", OracleLoss(), approximations=["rho=1"])


def test_non_quadratic_expression_loss_with_a_gaussian():
    theta = MatrixSymbol("theta", D, 1)
    loss = ExpressionLoss("quartic", (theta.T * theta) * (theta.T * theta), theta)
    with pytest.raises(ValueError, match="not quadratic"):
        derive("multivariate-gaussian", loss)


def test_unknown_approximation_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown approximation") as err:
        derive("multivariate-gaussian", approximations=["laplace-magic"])
    assert all(k in str(err.value) for k in APPROXIMATIONS)


def test_expectation_without_closed_form_or_sampler():
    """E_q[sin(x) Σ yᵢ] under a Normal–Gamma is neither linear in T(θ) nor exp(cᵀT), and blrkit has no
    sampler for it: refused, naming the term."""
    from blrkit.families import FAMILIES

    ng = FAMILIES["normal-gamma"]()
    x = ng.theta[0]
    lik = Likelihood("sin-type", Y[I] * sp.sin(x))
    with pytest.raises(ValueError, match=r"E_q\[sin\(x\).*has no closed form.*no sampler"):
        derive(ng, lik, approximations=["rho=1"])


@pytest.mark.parametrize("name", list(RECIPES))
def test_approximations_compose_in_order(name):
    recipe = RECIPES[name]
    d = recipe.derive()
    assert tuple(a.key for a in d.approximations) == recipe.approximations
    for a in d.approximations:
        assert a.name and a.key in APPROXIMATIONS and a.statement
        assert a.citation.startswith("Khan & Rue 2023, Sec.")


def test_order_is_kept_when_reversed():
    forward = derive("gaussian-fixed-covariance", approximations=["delta", "stochastic"])
    backward = derive("gaussian-fixed-covariance", approximations=["stochastic", "delta"])
    assert [a.key for a in forward.approximations] == ["delta", "stochastic"]
    assert [a.key for a in backward.approximations] == ["stochastic", "delta"]
    assert sp.simplify(forward.update[-1].rhs - backward.update[-1].rhs) == sp.ZeroMatrix(D, 1) or \
        sp.expand(forward.update[-1].rhs - backward.update[-1].rhs).doit() == sp.ZeroMatrix(D, 1)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(function_name="1abc"), ValueError, "Python identifier"),
    (dict(function_name=3), TypeError, "function_name must be a str"),
    (dict(title=3), TypeError, "title must be a str"),
    (dict(anchor="nope"), ValueError, "one of blrkit.paper.ANCHORS"),
    (dict(approximations=1), TypeError, "approximations must be"),
    (dict(approximations=b"delta"), TypeError, "approximations must be"),
    (dict(prior=1), TypeError, "prior of a Gaussian candidate"),
    (dict(prior=[]), TypeError, "prior of a Gaussian candidate"),
])
def test_derive_names_the_argument_it_cannot_use(kwargs, error, match):
    """Found by tests/derive/test_derive_api_fuzz.py: each used to end in a SyntaxError at compile(), a raw
    TypeError/KeyError/AttributeError from inside the engine, or an iteration error."""
    args = dict(family="multivariate-gaussian", approximations=["delta"])
    args.update(kwargs)
    with pytest.raises(error, match=match):
        derive(args.pop("family"), None, args.pop("prior", None), args.pop("approximations"), **args)


def test_no_approximations_may_be_given_as_none():
    assert derive("multivariate-gaussian", None, None, None).update == \
        derive("multivariate-gaussian", None, None, ()).update


# -- the compiled step checks its arguments by their roles (issue #27) ------------------------------------------------
import functools  # noqa: E402

import numpy as np  # noqa: E402

T1, T2 = sp.symbols("theta_1 theta_2", real=True)
_QUARTIC = T1**2 + T1 * T2 + T2**4  # D = 2, fixed by the loss


@functools.lru_cache(maxsize=1)
def _quartic_step():
    return derive("multivariate-gaussian", _QUARTIC, None, ["delta"]).compile()


def _grad(m):
    return np.stack([2 * m[..., 0] + m[..., 1], m[..., 0] + 4 * m[..., 1] ** 3], axis=-1)


def _hess(m):
    return np.array([[2.0, 1.0], [1.0, 12.0 * m[..., 1] ** 2]])


M, S, RNG = np.array([0.5, -1.0]), np.array([[2.0, 0.5], [0.5, 1.0]]), np.random.default_rng(0)
#: (recipe or None for the quartic, arguments, the error, the words the message must hold)
BAD_CALLS = [
    (None, (np.zeros(2), np.eye(1), 0.5), ValueError, r"S must have D = 2"),  # the call: it returned
    (None, (np.zeros(3), np.eye(3), 0.5), ValueError, r"m must have D = 2"),  # m[..., 0:2] of a 3-vector was used
    (None, (M, S, np.nan), ValueError, r"rho must be finite"),
    (None, (M, S, 0.0), ValueError, r"rho must lie in \(0, 1\]"),
    (None, (M, S, np.array([0.5, 1.5])), ValueError, r"rho must lie in \(0, 1\]"),
    (None, (M, np.array([[1.0, 3.0], [0.0, 1.0]]), 0.5), ValueError, r"S must be symmetric"),  # Cholesky reads one
    (None, (M, np.array([[1.0, 2.0], [2.0, 1.0]]), 0.5), ValueError, r"S must be symmetric positive definite"),  # triangle
    (None, (np.array([np.nan, 1.0]), S, 0.5), ValueError, r"m must be finite"),
    (None, (M + 1j, S, 0.5), TypeError, r"m must be real numbers, got complex"),
    (None, (["a", "b"], S, 0.5), TypeError, r"m must be real numbers, got text"),
    (None, (None, S, 0.5), TypeError, r"m is required"),
    (None, (M, S), TypeError, r"missing rho"),
    (None, (np.zeros((3, 2)), np.stack([S] * 2), 0.5), ValueError, r"S has batch shape \(2,\) but m has \(3,\)"),
    (None, (np.full(2, 1e200), S, 0.5), ValueError, r"output m_new holds NaN or inf.*\|m\| up to 1e\+200"),
    ("variational_newton", dict(m=M, S=S, rho=0.5, grad=_grad, hess=_hess, n_samples=0, rng=RNG), ValueError,
     r"n_samples must be an integer >= 1"),
    ("variational_newton", dict(m=M, S=S, rho=0.5, grad=_grad, hess=_hess, n_samples=2, rng=3), TypeError,
     r"rng must be a numpy.random.Generator"),
    ("variational_newton", dict(m=M, S=S, rho=0.5, grad=3.0, hess=_hess, n_samples=2, rng=RNG), TypeError,
     r"grad must be callable"),
    ("variational_newton", dict(m=M, S=S, rho=0.5, grad=lambda t: t * np.nan, hess=_hess, n_samples=2, rng=RNG),
     ValueError, r"the value grad returned must be finite"),
    ("variational_newton", dict(m=M, S=S, rho=0.5, grad=lambda t: t + 1j, hess=_hess, n_samples=2, rng=RNG),
     TypeError, r"the value grad returned must be real"),
    ("variational_newton", dict(m=M, S=S, rho=0.5, grad=_grad, hess=lambda t: np.ones(3), n_samples=2, rng=RNG),
     ValueError, r"hess returned an array of shape \(3,\) for an argument of shape \(2, 2\)"),  # averaged silently
    ("variational_newton", dict(m=M, S=S, rho=0.5, grad=lambda t: t[..., :1], hess=_hess, n_samples=2, rng=RNG),
     ValueError, r"grad returned an array of shape \(2, 1\)"),  # a gradient of one entry was broadcast to all
    ("rmsprop", dict(m=M, v=np.zeros(2), rho=0.1, lr=-0.1, eps=1e-8, grad_mean=_grad), ValueError,
     r"lr must be > 0"),  # a hyperparameter declared positive
    ("rmsprop", dict(m=M, v=-np.ones(2), rho=0.1, lr=0.1, eps=1e-8, grad_mean=_grad), ValueError,
     r"v must be >= 0"),  # a state declared positive: v = 0 is RMSprop's start
]


@pytest.mark.parametrize("recipe, args, error, match", BAD_CALLS)
def test_the_compiled_step_refuses_bad_arguments_naming_them(recipe, args, error, match):
    """Each call returned an answer (or NaN, or NumPy's error) before: the compiled step checked nothing."""
    step = _quartic_step() if recipe is None else RECIPES[recipe].derive().compile()
    given = list(args.values()) if isinstance(args, dict) else list(args)
    before = [a.copy() for a in given if isinstance(a, np.ndarray)]
    with pytest.raises(error, match=match), np.errstate(all="ignore"):
        step(**args) if isinstance(args, dict) else step(*args)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in
               zip([a for a in given if isinstance(a, np.ndarray)], before)), "a caller's array changed"


def test_the_checked_step_computes_the_damped_newton_step_by_position_and_by_name():
    """Valid arguments pass through: the step against the damped Newton step written here with NumPy, float32
    kept, a batch of rho, and nothing of the caller's changed."""
    step = _quartic_step()
    rho = 0.25
    S_new = (1 - rho) * S + rho * _hess(M)
    want = M - rho * np.linalg.solve(S_new, _grad(M))
    for got in (step(M, S, rho), step(rho=rho, S=S, m=M)):
        np.testing.assert_allclose(got[0], want, rtol=1e-13)
        np.testing.assert_allclose(got[1], S_new, rtol=1e-13)
    m32, S32 = M.astype(np.float32), S.astype(np.float32)
    assert step(m32, S32, 0.5)[0].dtype == np.float32
    batch = step(np.stack([M, M]), S, np.array([rho, 1.0]))[0]
    np.testing.assert_allclose(batch[0], want, rtol=1e-13)
    assert np.array_equal(M, [0.5, -1.0]) and np.array_equal(S, [[2.0, 0.5], [0.5, 1.0]])


def test_the_emitted_steps_own_refusal_passes_unchanged():
    """A check the emitted code makes itself (the logistic loss's labels) keeps its message; it is not re-worded
    as a failure to compute."""
    from blrkit.derive import derive_local_parameters

    step = derive_local_parameters("logistic").compile()
    with pytest.raises(ValueError, match=r"^y must hold labels 0 or 1 for the logistic loss \(labels are \{0, 1\}"):
        step(np.zeros(2), np.ones((3, 2)), np.array([1.0, -1.0, 1.0]))


@pytest.mark.parametrize("call, error, match", [
    (lambda d: d.latex(steps=np.ones(2)), TypeError, "steps must be True or False"),  # NumPy's truth-value error
    (lambda d: d.text(steps=np.ones(2)), TypeError, "steps must be True or False"),
    (lambda d: d.markdown(steps="no"), TypeError, "steps must be True or False"),  # any text meant True
    (lambda d: d.latex(width="56"), ValueError, "width must be an integer >= 1"),  # 'str' - 'int'
    (lambda d: d.latex(width=sp.Symbol("x")), ValueError, "width must be an integer >= 1"),  # a Relational's truth
    (lambda d: d.emit(recipe=np.ones(2)), TypeError, "recipe must be a str"),
    (lambda d: __import__("blrkit.derive").derive.parse_expression("theta", ["theta"]), TypeError,
     "symbols must be a dict of names to SymPy symbols"),  # 'list' object is not a mapping
    (lambda d: __import__("blrkit.derive").derive.glm_loss(None), TypeError, "f must be a GLMLoss"),  # AttributeError
    (lambda d: __import__("blrkit.derive").derive.glm_loss(b"a"), TypeError, "f must be a GLMLoss"),  # bytes-like
    (lambda d: __import__("blrkit.duality").duality.glm_likelihood(None), TypeError, "f must be a GLMLoss"),
    (lambda d: __import__("blrkit.derive.blr").derive.blr.component_loss("x"), TypeError,
     "expr must be a SymPy expression"),  # 'str' object has no attribute 'free_symbols'
])
def test_the_printers_and_the_parser_name_a_bad_argument(call, error, match):
    """Found by probing blrkit.derive's public API (issue #27): each ended in NumPy's, SymPy's or Python's error."""
    d = derive("gaussian-fixed-covariance", None, None, ["delta"])
    with pytest.raises(error, match=match):
        call(d)
