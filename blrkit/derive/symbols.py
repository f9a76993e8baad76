r"""The symbols every derivation shares, at the bottom of the derive layer's imports.

The step size :math:`\rho`, the symbolic dimensions, the symbols a per-example GLM loss is written in, and
:class:`Display`, a symbol that carries its own LaTeX (the notation travels with the symbol).
"""

from __future__ import annotations

import sympy as sp

#: the step size ρ of the BLR
RHO = sp.Symbol("rho", positive=True)

#: the symbolic dimension of θ, and of an observation
D = sp.Symbol("D", integer=True, positive=True)
O = sp.Symbol("O", integer=True, positive=True)  # noqa: E741
N = sp.Symbol("N", integer=True, positive=True)

#: the symbols a per-example GLM loss f(η, y) is written in
ETA, Y_OBS = sp.Symbol("eta", real=True), sp.Symbol("y", real=True)


class Display(sp.Symbol):
    r"""A symbol shown with its own LaTeX (derivation display only; never printed as code).

    Its LaTeX and text are part of its identity: SymPy caches symbols by name, so a cached
    ``Display("dl_0", …)`` given a new LaTeX would change how every earlier derivation prints.

    >>> Display("dl_0", r"\partial\ell/\partial\theta") == Display("dl_0", r"\partial\ell/\partial\theta_1")
    False
    """

    def __new__(cls, name, tex, text=None):
        obj = sp.Symbol.__xnew__(cls, name)  # uncached: the cache would hand back another derivation's symbol
        obj._tex, obj._text = tex, text or name
        return obj

    def __getnewargs__(self):
        return (self.name, self._tex, self._text)

    def _hashable_content(self):
        return super()._hashable_content() + (self._tex, self._text)

    def _latex(self, printer):
        return self._tex

    def _sympystr(self, printer):
        return self._text


__all__ = ["D", "Display", "ETA", "N", "O", "RHO", "Y_OBS"]
