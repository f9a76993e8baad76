"""blrkit: machine-learning algorithms derived from the Bayesian learning rule.

Three layers, imported separately so that running an algorithm never imports SymPy:

- :mod:`blrkit.families`: exponential families defined symbolically (SymPy);
- :mod:`blrkit.derive`: BLR updates derived step by step, printed as LaTeX, emitted as NumPy;
- :mod:`blrkit.algorithms`: the emitted NumPy updates with their drivers (NumPy only);
- :mod:`blrkit.duality`: the algorithms' GLM posteriors read as sums of per-example sites
  (leave-one-out, memorable examples, K-priors).

Beside them, :mod:`blrkit.classical` holds the hand-written textbook algorithms the tests compare
against, and :mod:`blrkit.models` small NumPy networks for the deep-learning optimisers.

Reference: Khan & Rue, "The Bayesian Learning Rule", JMLR 24 (2023).
"""

__version__ = "0.1.0"
__all__ = ["__version__", "identify"]


def __getattr__(name):  # blrkit.identify on first use: importing blrkit never imports SymPy
    if name == "identify":
        from .reverse import identify

        return identify
    raise AttributeError(f"module 'blrkit' has no attribute {name!r}")
