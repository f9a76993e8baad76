r"""One figure style for the lecture notebooks: legible on a projector.

``lecture_style()`` sets Matplotlib's defaults so that every text of a figure is at least
:data:`MIN_FONT_SIZE` points at its saved size, axes and legends included.  The notebooks call it
once at the top; the notebook tests check the font sizes of the figures they draw.

>>> from blrkit.plotting import lecture_style, MIN_FONT_SIZE
>>> style = lecture_style()
>>> min(v for k, v in style.items() if k.endswith("size") and isinstance(v, (int, float))) >= MIN_FONT_SIZE
True
"""

from __future__ import annotations

#: the smallest font size (points, at the figure's saved size) that a figure may use
MIN_FONT_SIZE = 11

_STYLE = {
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.labelsize": 13,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "legend.title_fontsize": 12,
    "figure.titlesize": 15,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 2.0,
    "figure.constrained_layout.use": True,
}


def lecture_style() -> dict:
    """Apply the lecture style to Matplotlib's defaults and return the settings applied."""
    import matplotlib as mpl  # matplotlib is imported only by the notebooks that draw

    mpl.rcParams.update(_STYLE)
    return dict(_STYLE)
