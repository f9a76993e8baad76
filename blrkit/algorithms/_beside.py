"""Where a driver's new arrays go when its arguments mix another library's arrays with numbers and lists."""

from __future__ import annotations

import numpy as np

from blrkit._array_api import array_library, array_namespace, on_device


def namespace_and_reference(**named):
    """The namespace of the array arguments in ``named`` (:func:`~blrkit._array_api.array_namespace`) and one of
    its arrays, to convert the other arguments (numbers, lists: NumPy after the checks) beside it with
    :func:`~blrkit._array_api.on_device`; the reference is None for NumPy.

    >>> import numpy as np
    >>> xp, like = namespace_and_reference(X=[[1.0]], y=np.ones(1))
    >>> xp is np, like is None
    (True, True)
    """
    xp = array_namespace(**named)
    if xp is np:  # NumPy: no reference needed (and no scan of the arguments on the hot path)
        return xp, None
    return xp, next(v for v in named.values() if array_library(v) not in (None, "numpy"))


__all__ = ["namespace_and_reference", "on_device"]
