r"""Which array library a call computes with: NumPy, or any library of the Python Array API standard.

The emitted steps and the drivers are written against the Array API standard
(https://data-apis.org/array-api/): ``xp.linalg.solve``, ``x.mT``, ``xp.sum(..., axis=)``, ….
NumPy ≥ 2.1 implements it in its main namespace, so NumPy arrays (and Python numbers and lists)
compute with :mod:`numpy` itself, with no wrapper in the hot path. Arrays of another library
(PyTorch, JAX, CuPy, array-api-strict) compute with the namespace ``array-api-compat`` gives
for them and come back as that library's arrays, on their device. Nothing here imports an
optional library: ``array_api_compat`` is imported when such an array arrives.

An emitted step computes in the floating dtype of its array arguments (:func:`float_dtype`): float32
arrays give float32 results, float64 (or no floating array: integers, booleans, lists, Python numbers)
gives float64; float16 and bfloat16 are refused. (JAX computes in float64 only after
``jax.config.update("jax_enable_x64", True)``.)

Four functions of SciPy that the standard lacks have a definition here for the other
namespaces (NumPy keeps SciPy's): :func:`expit`, :func:`digamma`, :func:`gammaln` and
:func:`logsumexp`.
"""

from __future__ import annotations

import math

import numpy as np


_PLAIN = (float, int, np.generic, np.ndarray, list, tuple, type(None))


def array_library(x) -> str | None:
    """The library an array argument comes from (``"numpy"``, ``"dask"``, ``"jax"``, …), or None for
    Python numbers, lists and other plain values. Reads the type only: nothing is imported.

    >>> array_library(np.ones(2)), array_library([1.0, 2.0]), array_library(2.0)
    ('numpy', None, None)
    """
    t = type(x)
    if isinstance(x, (np.ndarray, np.generic)):
        return "numpy"
    top = t.__module__.partition(".")[0]
    if hasattr(t, "__array_namespace__") or hasattr(t, "__dask_graph__") or top in _ARRAY_MODULES:
        return _ARRAY_MODULES.get(top, top)
    return None


#: libraries whose arrays array-api-compat wraps though their type may lack ``__array_namespace__``
_ARRAY_MODULES = {"torch": "torch", "cupy": "cupy", "jax": "jax", "jaxlib": "jax", "sparse": "sparse"}


def check_one_array_library(named: dict, *, allowed: dict[str, set[str]] | None = None) -> str:
    """Every array argument in ``named`` (name → value) from one library; return it (``"numpy"`` if none).

    ``allowed`` lists, per library, the others it may be mixed with (e.g. ``{"dask": {"numpy"}}``:
    Dask data with NumPy parameters). Otherwise a mix raises ``TypeError`` naming both arguments.

    >>> class Array:                       # stands for any Array API array other than NumPy's
    ...     __module__ = "otherlib"
    ...     def __array_namespace__(self): ...
    >>> check_one_array_library({"y": np.ones(2), "F": Array()})
    Traceback (most recent call last):
    ...
    TypeError: F comes from otherlib (Array) but y from NumPy: pass every array argument from one library (np.asarray(F) converts to NumPy)
    """
    libs = {name: lib for name, v in named.items() if (lib := array_library(v)) is not None}
    found = set(libs.values())
    if len(found) <= 1:
        return next(iter(found), "numpy")
    allowed = allowed or {}
    for main in found:
        if found - {main} <= allowed.get(main, set()):
            return main
    first = next(iter(libs))
    other = next(n for n, lib in libs.items() if lib != libs[first])
    if libs[first] != "numpy" and libs[other] == "numpy":
        first, other = other, first
    kind = {"numpy": "NumPy", "dask": "Dask"}
    raise TypeError(f"{other} comes from {kind.get(libs[other], libs[other])} ({type(named[other]).__name__}) but "
                    f"{first} from {kind.get(libs[first], libs[first])}: pass every array argument from one "
                    f"library (np.asarray({other}) converts to NumPy)")


def array_namespace(**named):
    """The namespace to compute with for the arrays in ``named`` (argument name → value).

    NumPy arrays, NumPy scalars, Python numbers and lists give :mod:`numpy`. Arrays of one other
    library give its Array API namespace; arrays of two libraries raise ``TypeError`` naming the
    arguments.

    >>> array_namespace(m=np.zeros(2), rho=0.5) is np
    True
    """
    for v in named.values():
        if not isinstance(v, _PLAIN):
            return _other_namespace(named)
    return np


def _other_namespace(named: dict):
    lib = check_one_array_library(named)
    if lib == "numpy":  # NumPy arrays beside numbers and lists, or values that are no arrays at all
        return np
    arrays = [v for v in named.values() if array_library(v) == lib]
    try:
        import array_api_compat
    except ImportError:
        if hasattr(arrays[0], "__array_namespace__"):
            return arrays[0].__array_namespace__()
        name = next(n for n, v in named.items() if v is arrays[0])
        raise TypeError(f"{name} is a {lib} array: blrkit computes with arrays other than NumPy's through "
                        "array-api-compat; install it (pip install 'blrkit[array-api]')") from None
    return array_api_compat.array_namespace(*arrays)


_FLOAT64, _FLOAT32 = np.dtype(np.float64), np.dtype(np.float32)


def float_dtype(xp, **named):
    """The floating dtype a step computes in: the widest of its floating array arguments (argument name → value).

    float32 arrays give float32, unless an argument is float64 (a float64 array or NumPy scalar, as in NumPy's
    own promotion); integer and boolean arrays, lists, Python numbers and None do not choose, and alone they
    give float64. float16, bfloat16 and complex arrays are refused: a step's accumulations (sums of squared
    gradients, log-likelihoods) lose their meaning in 16 bits, and a BLR step is real.

    Raises
    ------
    ValueError
        An argument of a dtype other than float32, float64, integer or boolean; the message names it.

    Examples
    --------
    >>> float_dtype(np, m=np.ones(2, dtype=np.float32), rho=0.5, y=np.array([0, 1])) is np.float32
    True
    >>> float_dtype(np, m=[1.0, 2.0], rho=0.5) is np.float64
    True
    >>> float_dtype(np, m=np.ones(2, dtype=np.float16))
    Traceback (most recent call last):
    ...
    ValueError: m has dtype float16: blrkit computes in float32 or float64; convert m (e.g. m.astype(numpy.float32))
    """
    found = None
    for name, v in named.items():
        dtype = getattr(v, "dtype", None)
        if dtype is None or isinstance(v, (list, tuple)):
            continue
        if isinstance(v, (np.ndarray, np.generic)):
            kind = dtype.kind
            if kind == "f" and dtype in (_FLOAT64, _FLOAT32):
                wide = dtype == _FLOAT64
            elif kind in "biuO":
                continue
            else:
                raise ValueError(_unsupported(name, dtype, "numpy"))
        else:
            try:
                if xp.isdtype(dtype, ("bool", "integral")):
                    continue
                bits = xp.finfo(dtype).bits if xp.isdtype(dtype, "real floating") else 0
            except (TypeError, ValueError, AttributeError):
                bits = 0
            if bits not in (32, 64):
                raise ValueError(_unsupported(name, dtype, array_library(v) or "numpy"))
            wide = bits == 64
        if wide:
            return xp.float64
        found = xp.float32
    return found if found is not None else xp.float64


def _unsupported(name: str, dtype, lib: str) -> str:
    shown = str(dtype).rpartition(".")[2]
    return (f"{name} has dtype {shown}: blrkit computes in float32 or float64; convert {name} "
            f"(e.g. {name}.astype({lib}.float32))")


def device(x):
    """The device ``x`` lives on (``"cpu"`` for NumPy), to create new arrays beside it."""
    if isinstance(x, np.ndarray):
        return "cpu"
    import array_api_compat

    return array_api_compat.device(x)


def to_numpy(x) -> np.ndarray:
    """A NumPy copy (or view) of ``x``, for messages and host-side work; NumPy arrays pass through."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.from_dlpack(x)
    except (TypeError, RuntimeError, BufferError, AttributeError):
        import array_api_compat

        return np.asarray(array_api_compat.to_device(x, "cpu"))


def on_device(xp, a, like):
    """The NumPy array ``a`` (random draws, quadrature nodes) as an ``xp`` array on ``like``'s device, in
    ``like``'s floating dtype (float64 when ``like`` is a Python number); a boolean mask stays boolean on NumPy.

    >>> on_device(np, np.arange(3), np.zeros(2, dtype=np.float32)).dtype
    dtype('float32')
    """
    dtype = getattr(like, "dtype", None)
    if xp is np:
        if dtype is None or dtype.kind != "f":
            dtype = _FLOAT64
        return a if a.dtype == dtype or a.dtype.kind == "b" else a.astype(dtype)
    if dtype is None or not xp.isdtype(dtype, "real floating"):
        dtype = xp.float64
    return xp.asarray(a, dtype=dtype, device=device(like))


def expit(x):
    r"""The logistic function :math:`1 / (1 + e^{-x})`, without overflow for either sign of ``x``."""
    if isinstance(x, (np.ndarray, np.generic, float)):
        import scipy.special

        return scipy.special.expit(x)
    xp = array_namespace(x=x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


#: Bernoulli numbers B_2k / (2k) of the asymptotic series of ψ, k = 1..7
_PSI_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def digamma(x):
    r"""The digamma function :math:`\psi(x) = \frac{d}{dx}\log\Gamma(x)` for :math:`x > 0`.

    Off NumPy (where SciPy's is used): the recurrence :math:`\psi(x) = \psi(x + 1) - 1/x` lifts
    :math:`x` to at least 10, then :math:`\psi(x) \approx \log x - \frac{1}{2x} - \sum_{k=1}^{7}
    \frac{B_{2k}}{2k\,x^{2k}}`, whose first omitted term is below :math:`5 \cdot 10^{-17}` there
    (Abramowitz & Stegun 6.3.18).
    """
    if isinstance(x, (np.ndarray, np.generic, float)):
        import scipy.special

        return scipy.special.digamma(x)
    xp = array_namespace(x=x)
    shift = xp.zeros_like(x)
    for _ in range(10):
        small = x < 10
        shift = shift - xp.where(small, 1 / x, 0.0)
        x = xp.where(small, x + 1, x)
    inv2 = 1 / (x * x)
    series = xp.zeros_like(x)
    for c in reversed(_PSI_SERIES):  # Horner in 1/x²
        series = (series + c) * inv2
    return shift + xp.log(x) - 1 / (2 * x) - series


#: B_2k / (2k (2k − 1)), k = 1..7: the coefficients of Stirling's series of log Γ
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)


def gammaln(x):
    r""":math:`\log\Gamma(x)` for :math:`x > 0`: SciPy's for NumPy; for another namespace (which the standard
    leaves without it) :math:`\log\Gamma(x) = \log\Gamma(x + 10) - \sum_{j=0}^{9}\log(x + j)`, then Stirling's
    series :math:`(z - \tfrac12)\log z - z + \tfrac12\log 2\pi + \sum_{k=1}^{7}\frac{B_{2k}}{2k(2k-1)z^{2k-1}}`
    at :math:`z = x + 10 > 10`, whose first omitted term is below :math:`10^{-17}` there (Abramowitz & Stegun
    6.1.40): absolute error a few ulps of :math:`\log\Gamma(z)`.

    >>> import array_api_strict as xs, scipy.special
    >>> x = np.array([1e-3, 0.5, 1.0, 2.5, 30.0, 1e4])
    >>> bool(np.allclose(np.from_dlpack(gammaln(xs.asarray(x))), scipy.special.gammaln(x), rtol=1e-14, atol=1e-14))
    True
    """
    if isinstance(x, (np.ndarray, np.generic, float)):
        import scipy.special

        return scipy.special.gammaln(x)
    xp = array_namespace(x=x)
    shift = xp.zeros_like(x)
    for j in range(10):
        shift = shift + xp.log(x + j)
    z = x + 10
    inv2, series = 1 / (z * z), xp.zeros_like(x)
    for c in reversed(_STIRLING):  # Horner in 1/z², times 1/z
        series = series * inv2 + c
    return (z - 0.5) * xp.log(z) - z + 0.5 * math.log(2 * math.pi) + series / z - shift


def logsumexp(x, xp, axis: int = -1, keepdims: bool = False):
    r""":math:`\log \sum e^{x}` along ``axis``, shifted by the maximum so that nothing overflows."""
    top = xp.max(x, axis=axis, keepdims=True)
    out = top + xp.log(xp.sum(xp.exp(x - top), axis=axis, keepdims=True))
    return out if keepdims else xp.squeeze(out, axis=axis)


__all__ = ["array_library", "array_namespace", "check_one_array_library", "device", "digamma", "expit",
           "float_dtype", "gammaln", "logsumexp", "on_device", "to_numpy"]
