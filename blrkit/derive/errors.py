"""The derive layer's one error, at the bottom of its imports: every module may raise it."""

from __future__ import annotations


class DerivationError(ValueError):
    """A family, loss and approximations that do not make sense together."""


__all__ = ["DerivationError"]
