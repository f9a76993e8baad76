"""Tolerances of the reverse-lookup tests, each with its reason."""

#: the user's update and the emitted step evaluate the same rational (and sqrt) function in float64 on
#: values of order one: a few dozen operations, each erring by about 2.2e-16
NUMERIC = 1e-9
