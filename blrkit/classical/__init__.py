"""Hand-written textbook algorithms: the independent oracles blrkit's BLR updates are checked against.

Nothing here is derived or generated; each function is written from its textbook form,
and the tests and notebooks set it side by side with :mod:`blrkit.algorithms`.
"""
