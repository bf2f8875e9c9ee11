"""The book's figures: one colour per augmentation everywhere, percent axes, integer layer ticks, readable labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from textembed_utils import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    plotting.set_style()
    yield
    plt.close("all")


def line_colours(ax) -> dict[str, tuple]:
    return {line.get_label(): to_rgb(line.get_color()) for line in ax.get_lines() if not line.get_label().startswith("_")}


def test_crops_has_one_colour_whichever_runs_share_the_panel():
    curve = [{"step": 0, "knn_euclidean": 0.5}, {"step": 100, "knn_euclidean": 0.8}]
    _, (left, right) = plt.subplots(1, 2)
    plotting.learning_curves({"bare/untrained": curve, "bare/crops": curve, "bare/dropout": curve}, ax=left)
    plotting.learning_curves({"bare/crops": curve}, ax=right)
    assert line_colours(left)["bare/crops"] == line_colours(right)["bare/crops"] == plotting.AUGMENTATION_COLOURS["crops"]
    # the layer figure keys its lines by augmentation alone, and the loss figure by run: the same colours
    _, ax = plt.subplots()
    plotting.layer_curves({"dropout": [0.5, 0.6], "crops": [0.5, 0.7]}, ax=ax)
    assert line_colours(ax)["crops"] == plotting.AUGMENTATION_COLOURS["crops"]
    _, ax = plt.subplots()
    plotting.loss_curves({"pretrained/dropout": [2.0, 1.0], "bare/dropout": [2.0, 1.5]}, ax=ax)
    colours = line_colours(ax)
    assert colours["pretrained/dropout"] == colours["bare/dropout"] == plotting.AUGMENTATION_COLOURS["dropout"]
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles["pretrained/dropout"] != styles["bare/dropout"], "two starts of one augmentation differ by line style"


def test_accuracy_axes_are_in_percent_and_layer_axes_have_integer_ticks():
    _, ax = plt.subplots()
    plotting.layer_curves({"crops": [0.82, 0.83, 0.845]}, ax=ax, intervals={"crops": [(0.8, 0.84)] * 3})
    plt.gcf().canvas.draw()
    assert all(float(tick).is_integer() for tick in ax.get_xticks() if 0 <= tick <= 2)
    labels = [label.get_text() for label in ax.get_yticklabels() if label.get_text()]
    assert all(float(text) > 1 for text in labels), labels
    assert "(%)" in ax.get_ylabel()
    low, high = ax.get_ylim()
    assert low <= 0.8 and high >= 0.845, "the interval band is inside the axis range"


def test_loss_axis_writes_its_ticks_as_numbers():
    _, ax = plt.subplots()
    plotting.loss_curves({"bare/crops": list(np.geomspace(2.5, 0.05, 200))}, ax=ax)
    plt.gcf().canvas.draw()
    labels = [label.get_text() for label in ax.get_yticklabels() if label.get_text()]
    assert len(labels) >= 3 and not any("10^" in text or "$" in text for text in labels), labels


def test_bar_labels_do_not_overlap():
    frame = pd.DataFrame({"block": ["Clustering"] * 5 + ["Classification"] * 5,
                          "model": ["bare/untrained", "bare/dropout", "bare/crops", "pretrained/untrained",
                                    "pretrained/crops"] * 2,
                          "score (%)": [21.5, 20.0, 53.1, 45.1, 45.2, 50.4, 54.4, 73.6, 71.2, 74.4]})
    ax = plotting.comparison_bars(frame, x="block", y="score (%)", hue="model")
    figure = plt.gcf()
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in ax.texts]
    assert len(boxes) == 10
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y1 <= ax.get_window_extent(renderer).y0, "the legend sits below the bars, not on them"


def test_eleven_topics_get_eleven_distinct_colours():
    coords = np.random.default_rng(0).normal(size=(110, 2))
    labels = np.repeat([f"topic {i}" for i in range(11)], 10)
    ax = plotting.tsne_scatter(coords, labels)
    colours = {tuple(np.round(c[:3], 3)) for c in ax.collections[0].get_facecolors()}
    assert len(colours) == 11
