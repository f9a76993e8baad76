r"""A Matplotlib backend for the lecture notebooks: inline figures, each checked as it is drawn.

Select it for a kernel with ``MPLBACKEND=module://blrkit.lecture_backend`` (the notebook tests do,
for every notebook). Figures show inline as with Jupyter's usual ``inline`` backend (it delegates to
``matplotlib_inline``; outside IPython it draws nothing, like Agg). Each time a figure is drawn
(shown inline or saved) :func:`figure_problems` inspects it, and every problem is written to
standard error as one line starting ``LectureFigureWarning:``, so a cell that draws an unreadable
figure prints a warning the tests see:

- a text (title, label, tick label, legend entry, annotation) smaller than
  :data:`blrkit.plotting.MIN_FONT_SIZE` points at the figure's size (points are absolute: the
  size a projector shows the saved figure at, whatever its dpi);
- an axes that draws data without an x or a y label (a label shared through ``sharex``/``sharey``
  or ``fig.supxlabel``/``supylabel`` counts; a colour bar, and an axis without ticks such as an
  image tile's, are exempt);
- an axes with two or more labelled artists and no legend that shows them (its own, another
  axes' or the figure's).

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> _ = ax.plot([0, 1], [0, 1], label="a"); _ = ax.plot([0, 1], [1, 0], label="b")
>>> _ = ax.set_xlabel("x", fontsize=8)
>>> for problem in figure_problems(fig): print(problem)
1 text at 8.0 pt (< 11 pt): 'x'
axes 1 has no y label
axes 1 has 2 labelled artists but no legend
>>> plt.close(fig)
"""

from __future__ import annotations

import sys

from blrkit.plotting import MIN_FONT_SIZE

try:  # in a Jupyter kernel: the inline backend shows the figures
    from matplotlib_inline import backend_inline as _inline
except ImportError:  # pragma: no cover -- plain Python: draw nothing, as Agg does
    _inline = None

from matplotlib.backends.backend_agg import FigureCanvasAgg as FigureCanvas
from matplotlib.figure import Figure

__all__ = ["FigureCanvas", "figure_problems", "new_figure_manager", "new_figure_manager_given_figure", "show"]

_PREFIX = "LectureFigureWarning"


def _texts(fig):
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip():
            yield t


def _draws_data(ax) -> bool:
    return bool(ax.lines or ax.collections or ax.images or ax.patches or ax.containers)


def _labelled(ax, axis: str) -> bool:
    fig = ax.get_figure(root=False)
    if getattr(fig, f"_sup{axis}label", None) is not None:
        return True
    siblings = (ax.get_shared_x_axes() if axis == "x" else ax.get_shared_y_axes()).get_siblings(ax)
    return any((a.get_xlabel() if axis == "x" else a.get_ylabel()).strip() for a in siblings)


def figure_problems(fig) -> list[str]:
    """What makes ``fig`` unfit for a projector: small texts, unlabelled axes, missing legends."""
    problems, small = [], {}
    for t in _texts(fig):
        if t.get_fontsize() < MIN_FONT_SIZE - 1e-9:
            small.setdefault(round(t.get_fontsize(), 1), []).append(t.get_text()[:30])
    for size, texts in sorted(small.items()):
        problems.append(f"{len(texts)} text{'s' if len(texts) > 1 else ''} at {size} pt (< {MIN_FONT_SIZE} pt): "
                        + ", ".join(repr(t) for t in texts[:4]) + (", …" if len(texts) > 4 else ""))
    legends = [lg for lg in fig.legends] + [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    legend_texts = {t.get_text() for lg in legends for t in lg.get_texts()}
    for k, ax in enumerate(fig.axes, start=1):
        if not ax.get_visible() or not ax.axison or hasattr(ax, "_colorbar") or not _draws_data(ax):
            continue
        for axis in ("x", "y"):
            ticks = ax.get_xticks() if axis == "x" else ax.get_yticks()
            if getattr(ax, f"{axis}axis").get_visible() and len(ticks) and not _labelled(ax, axis):
                problems.append(f"axes {k} has no {axis} label")
        labelled = ax.get_legend_handles_labels()[1]
        if len(labelled) >= 2 and ax.get_legend() is None and not set(labelled) <= legend_texts:
            problems.append(f"axes {k} has {len(labelled)} labelled artists but no legend")
    return problems


def _report(event) -> None:
    fig = event.canvas.figure
    seen = fig.__dict__.setdefault("_blrkit_reported", set())
    for problem in figure_problems(fig):
        if problem not in seen:
            seen.add(problem)
            title = fig.get_suptitle() or next((a.get_title() for a in fig.axes if a.get_title()), "")
            print(f"{_PREFIX}: figure {fig.number if hasattr(fig, 'number') else ''}"
                  f"{f' ({title[:40]!r})' if title else ''}: {problem}", file=sys.stderr)


def new_figure_manager_given_figure(num, figure):
    """The inline backend's manager, with the check connected to every draw of ``figure``."""
    if _inline is not None:
        manager = _inline.new_figure_manager_given_figure(num, figure)
    else:  # pragma: no cover
        manager = FigureCanvas.new_manager(figure, num)
    figure.canvas.mpl_connect("draw_event", _report)  # callbacks live on the figure: kept when saved
    return manager


def new_figure_manager(num, *args, FigureClass=Figure, **kwargs):
    """A new figure (``pyplot.figure``/``subplots`` call this), checked when drawn."""
    return new_figure_manager_given_figure(num, FigureClass(*args, **kwargs))


def show(*args, **kwargs):
    """Show the pending figures inline (a no-op outside IPython)."""
    if _inline is not None:
        return _inline.show(*args, **kwargs)
    return None


def flush_figures():
    """Show what a cell drew when it ends (registered after each cell, as the inline backend does)."""
    if _inline is not None:
        return _inline.flush_figures()
    return None


def _register_with_ipython() -> None:
    """In a kernel: configure the inline display and show each cell's figures when the cell ends."""
    if _inline is None:
        return
    ip = _inline.get_ipython()
    if ip is None:
        return
    import matplotlib

    matplotlib.interactive(True)  # as IPython's activate_matplotlib does: new figures queue for display
    _inline.configure_inline_support(ip, "module://matplotlib_inline.backend_inline")
    # configure_inline_support registered the inline flush: keep one
    try:
        ip.events.unregister("post_execute", _inline.flush_figures)
    except ValueError:
        pass
    if flush_figures not in ip.events.callbacks["post_execute"]:
        ip.events.register("post_execute", flush_figures)


_register_with_ipython()
