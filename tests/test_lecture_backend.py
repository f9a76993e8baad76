"""blrkit.lecture_backend: what it reports about a figure, and what it lets pass (issue #25)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from blrkit.lecture_backend import figure_problems  # noqa: E402
from blrkit.plotting import MIN_FONT_SIZE, lecture_style  # noqa: E402


@pytest.fixture
def styled():
    with matplotlib.rc_context():
        lecture_style()
        yield
    plt.close("all")


def _good():
    fig, axes = plt.subplots(1, 2, sharey=True)
    for ax in axes:
        ax.plot([0, 1], [0, 1], label="a")
        ax.plot([0, 1], [1, 0], label="b")
        ax.set_xlabel("x")
    axes[0].set_ylabel("y")          # shared with axes[1]
    axes[0].legend()                 # shows axes[1]'s labels too
    fig.canvas.draw()                # tick labels get their text when drawn
    return fig, axes


def test_a_lecture_figure_passes(styled):
    fig, _ = _good()
    assert figure_problems(fig) == []


def test_each_defect_is_reported(styled):
    fig, axes = _good()
    axes[1].set_xlabel("")
    axes[0].tick_params(labelsize=MIN_FONT_SIZE - 1)
    axes[0].get_legend().remove()
    fig.canvas.draw()
    problems = figure_problems(fig)
    assert any(p.startswith("axes 2 has no x label") for p in problems)
    assert any(f"at {MIN_FONT_SIZE - 1.0} pt" in p for p in problems)
    assert sum("no legend" in p for p in problems) == 2


def test_image_tiles_need_no_axis_labels(styled):
    fig, ax = plt.subplots()
    ax.imshow([[0, 1], [1, 0]])
    ax.set_xticks([]); ax.set_yticks([])
    ax.set_title("a tile")
    assert figure_problems(fig) == []
