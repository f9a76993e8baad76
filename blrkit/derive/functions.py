r"""Numerically stable special functions for derived losses, as SymPy functions.

SymPy differentiates :math:`\log(1 + e^{u})` into :math:`e^{u}/(1 + e^{u})`, whose NumPy text
overflows for :math:`u \gtrsim 710`.  Writing the loss with these functions instead keeps every
derivative in a stable closed form, and each prints as the stable NumPy/SciPy call:

==========================  ===========================================  ==================================
function                     definition                                   NumPy
==========================  ===========================================  ==================================
``softplus(u)``              :math:`\log(1 + e^{u})`                      ``np.logaddexp(0, u)``
``expit(u)``                 :math:`1/(1 + e^{-u})`                       ``scipy.special.expit(u)``
``log_ndtr(u)``              :math:`\log\Phi(u)`                          ``scipy.special.log_ndtr(u)``
``mills(u)``                 :math:`\varphi(u)/\Phi(u)`                   via ``log_ndtr``
==========================  ===========================================  ==================================

:func:`stable` rewrites :math:`\log(1 + e^{u})` and :math:`\log(1 + e^{-u})` found in a user's
expression into ``softplus``.
"""

from __future__ import annotations

import sympy as sp


class expit(sp.Function):  # noqa: N801 (the name NumPy users know)
    r"""The logistic function :math:`\sigma(u) = 1/(1 + e^{-u})`; :math:`\sigma' = \sigma(u)\sigma(-u)`."""

    def fdiff(self, argindex=1):
        u = self.args[0]
        return expit(u) * expit(-u)

    def _eval_rewrite_as_exp(self, u, **kwargs):
        return 1 / (1 + sp.exp(-u))

    def _latex(self, printer):
        return rf"\sigma\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer):
        return f"scipy.special.expit({printer._print(self.args[0])})"


class softplus(sp.Function):  # noqa: N801
    r""":math:`\log(1 + e^{u})`, whose derivative is :math:`\sigma(u)`."""

    def fdiff(self, argindex=1):
        return expit(self.args[0])

    def _eval_rewrite_as_exp(self, u, **kwargs):
        return sp.log(1 + sp.exp(u))

    def _latex(self, printer):
        return rf"\log\left(1 + e^{{{printer._print(self.args[0])}}}\right)"

    def _numpycode(self, printer):
        return f"numpy.logaddexp(0, {printer._print(self.args[0])})"


class mills(sp.Function):  # noqa: N801
    r"""The inverse Mills ratio :math:`\varphi(u)/\Phi(u)`; its derivative is :math:`-r(u)(u + r(u))`."""

    def fdiff(self, argindex=1):
        u = self.args[0]
        return -mills(u) * (u + mills(u))

    def _eval_rewrite_as_exp(self, u, **kwargs):
        return sp.exp(-u**2 / 2) / sp.sqrt(2 * sp.pi) / ((1 + sp.erf(u / sp.sqrt(2))) / 2)

    def _latex(self, printer):
        u = printer._print(self.args[0])
        return rf"\frac{{\varphi({u})}}{{\Phi({u})}}"

    def _numpycode(self, printer):
        u = printer._print(self.args[0])
        return f"numpy.exp(-({u})**2/2 - scipy.special.log_ndtr({u}))/numpy.sqrt(2*numpy.pi)"


class log_ndtr(sp.Function):  # noqa: N801
    r""":math:`\log\Phi(u)`, the log of the standard normal CDF; derivative :math:`\varphi(u)/\Phi(u)`."""

    def fdiff(self, argindex=1):
        return mills(self.args[0])

    def _eval_rewrite_as_exp(self, u, **kwargs):
        return sp.log((1 + sp.erf(u / sp.sqrt(2))) / 2)

    def _latex(self, printer):
        return rf"\log\Phi\left({printer._print(self.args[0])}\right)"

    def _numpycode(self, printer):
        return f"scipy.special.log_ndtr({printer._print(self.args[0])})"


STABLE = {"softplus": softplus, "expit": expit, "log_ndtr": log_ndtr, "mills": mills}


def stable(expr):
    r"""Rewrite :math:`\log(1 + e^{u}) \to` ``softplus(u)`` everywhere in ``expr``.

    >>> u = sp.Symbol("u")
    >>> stable(sp.log(1 + sp.exp(-u)))
    softplus(-u)
    """
    def one_plus_exp(arg):
        terms = sp.Add.make_args(arg)
        if len(terms) != 2 or sp.S.One not in terms:
            return None
        other = terms[0] if terms[1] == 1 else terms[1]
        return other.args[0] if isinstance(other, sp.exp) else None

    return expr.replace(lambda e: isinstance(e, sp.log) and one_plus_exp(e.args[0]) is not None,
                        lambda e: softplus(one_plus_exp(e.args[0])))


def explicit(expr):
    """``expr`` with the stable functions written out in elementary functions (for checks)."""
    return expr.rewrite(sp.exp)
