"""Seaborn figures shared by the notebooks: learning curves, comparisons, layers, t-SNE maps.

One look across the book: an augmentation has the same colour in every figure of every
chapter (``AUGMENTATION_COLOURS``, from seaborn's colour-blind-safe palette), and a start
the same line style and marker (``START_STYLES``), so a figure still reads in greyscale
or on a washed-out projector. Accuracies are plotted in percent, as the tables print them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

_COLOURBLIND = sns.color_palette("colorblind")
AUGMENTATION_COLOURS = {
    "crops": _COLOURBLIND[0],          # blue
    "dropout": _COLOURBLIND[1],        # orange
    "masking": _COLOURBLIND[2],        # green
    "crops+masking": _COLOURBLIND[4],  # purple
    "untrained": _COLOURBLIND[7],      # grey
}
REFERENCE_COLOUR = (0.0, 0.0, 0.0)
START_STYLES = {"bare": ("-", "o"), "pretrained": ("--", "s"), "scratch": (":", "^"), "bare_model2vec": ("-.", "D")}
# Metrics side by side for the same runs: shades and markers that no augmentation uses.
METRIC_STYLES = {"knn_euclidean": ("black", "o"), "knn_cosine": ("dimgrey", "s"), "linear_probe": ("saddlebrown", "^")}
# t-SNE maps of up to 11 topics: the colour-blind palette's ten hues, then black (no light/dark pairs to confuse).
CLASS_COLOURS = [*_COLOURBLIND, (0.0, 0.0, 0.0)]


@dataclass(frozen=True)
class LineStyle:
    """How one run is drawn: colour from its augmentation, line style and marker from its start."""

    color: tuple | None
    linestyle: str = "-"
    marker: str = "o"

    def kwargs(self) -> dict:
        return {"color": self.color, "linestyle": self.linestyle, "marker": self.marker}


def run_style(label: str) -> LineStyle:
    """The style of a run labelled ``start/augmentation…`` (``Run.name``) or by its augmentation alone.

    Labels that name no augmentation (a reference, a corpus) get ``color=None``: the axes' next colour.
    """
    words = re.split(r"[/\s()]+", label)
    augmentation = next((w for w in words if w in AUGMENTATION_COLOURS), None)
    start = next((w for w in words if w in START_STYLES), None)
    if label.startswith("reference"):  # a model we only score: black, TF-IDF a plus and an encoder a cross
        return LineStyle(REFERENCE_COLOUR, "-", "P" if "tfidf" in words else "X")
    linestyle, marker = START_STYLES.get(start, ("-", "o"))
    return LineStyle(AUGMENTATION_COLOURS.get(augmentation), linestyle, marker)


def percent_axis(ax: plt.Axes, axis: str = "y") -> None:
    """Write an axis of fractions as percent (0.85 → 85)."""
    getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(lambda value, _: f"{100 * value:g}"))


def set_style() -> None:
    """One look for every figure in the book; figures inline when running in a Jupyter kernel.

    ``MPLBACKEND=Agg`` (set for headless runs) would otherwise make ``plt.show()``
    a no-op inside papermill's kernel, and the book would lose its figures.
    """
    if "ipykernel" in sys.modules:
        plt.switch_backend("module://matplotlib_inline.backend_inline")
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind",
                  rc={"legend.fontsize": 9, "axes.titlesize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10})


def learning_curves(
    curves: Mapping[str, Sequence[dict]], metric: str = "knn_euclidean", ax: plt.Axes | None = None,
    reference: Mapping[str, float] | None = None, title: str = "",
) -> plt.Axes:
    """kNN accuracy (or another metric, in %) against training batches, one line per run (like Fig. 1/3)."""
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    for name, points in curves.items():
        ax.plot([p["step"] for p in points], [p[metric] for p in points], label=name, **run_style(name).kwargs())
    for label, value in (reference or {}).items():
        ax.axhline(value, ls="--", lw=1, color="grey")
        ax.annotate(label, (ax.get_xlim()[0], value), textcoords="offset points", xytext=(4, 3),
                    fontsize=8, color="dimgrey")
    percent_axis(ax)
    ax.set(xlabel="training batches", ylabel=f"{metric.replace('_', ' ')} (%)", title=title)
    if curves:
        ax.legend()
    return ax


def loss_curves(losses: Mapping[str, Sequence[float]], ax: plt.Axes | None = None, smooth: int = 10) -> plt.Axes:
    """Training loss per batch (rolling mean over ``smooth`` batches), one line per run, on a log axis.

    InfoNCE is positive, so a log axis shows both its start near log B and its tail; ticks at 1, 2 and
    5 per decade are written out (0.2, 0.5, 1, 2) rather than as powers of ten.
    """
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    for name, values in losses.items():
        series = pd.Series(values, dtype=float).rolling(smooth, min_periods=1).mean()
        style = run_style(name)
        ax.plot(np.arange(1, len(series) + 1), series, label=name, color=style.color, linestyle=style.linestyle)
    ax.set(xlabel="training batches", ylabel="InfoNCE loss (log scale)", yscale="log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    ax.legend()
    return ax


def comparison_bars(
    frame: pd.DataFrame, x: str, y: str, hue: str | None = None, ax: plt.Axes | None = None, title: str = ""
) -> plt.Axes:
    """Grouped bars with the value (one decimal) written up each bar; the legend below the axes.

    When the hue levels are runs, each bar takes its augmentation's colour and its start's hatch, as
    every other figure does; the labels stand vertically so that neighbouring bars' never overlap.
    """
    levels = list(dict.fromkeys(frame[hue])) if hue else []
    styles = {level: run_style(str(level)) for level in levels}
    by_run = bool(levels) and all(style.color is not None for style in styles.values())
    ax = ax or plt.subplots(figsize=(max(7, 0.45 * len(frame) + 2), 4.5))[1]
    sns.barplot(frame, x=x, y=y, hue=hue, ax=ax, palette={k: v.color for k, v in styles.items()} if by_run else None)
    hatches = {"--": "//", ":": "..", "-.": "xx"}
    for level, container in zip(levels, ax.containers):
        if by_run:
            for bar in container:
                bar.set_hatch(hatches.get(styles[level].linestyle, ""))
        ax.bar_label(container, fmt="%.1f", fontsize=8, rotation=90, padding=2)
    ax.margins(y=0.15)
    ax.set_title(title)
    if hue:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(len(levels), 3), frameon=False)
    return ax


def layer_curves(per_layer: Mapping[str, Sequence[float]], ax: plt.Axes | None = None, ylabel: str = "kNN accuracy",
                 intervals: Mapping[str, Sequence[tuple[float, float]]] | None = None,
                 percent: bool = True) -> plt.Axes:
    """Quality of every hidden state (layer 0 = embeddings), one line per model (like Fig. 4b).

    ``intervals`` (``{name: [(low, high) per layer]}``) draws each line's 95 % interval as a band; the
    layer axis has integer ticks only.
    """
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    for name, values in per_layer.items():
        style = run_style(name)
        line = ax.plot(range(len(values)), values, label=name, **style.kwargs())[0]
        if intervals and name in intervals:
            low, high = zip(*intervals[name])
            ax.fill_between(range(len(values)), low, high, color=line.get_color(), alpha=0.15, linewidth=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if percent:
        percent_axis(ax)
    ax.set(xlabel="layer (0 = embedding output)", ylabel=f"{ylabel} (%)" if percent else ylabel)
    ax.legend()
    return ax


def tsne_scatter(coords: np.ndarray, labels: Sequence | None, ax: plt.Axes | None = None, title: str = "") -> plt.Axes:
    """A t-SNE map coloured by class (like Fig. 2): distinct colour-blind-safe hues up to 11 classes."""
    ax = ax or plt.subplots(figsize=(6, 6))[1]
    hue = None if labels is None else np.asarray(labels)
    n_classes = 0 if hue is None else len(set(hue.tolist()))
    palette = None if hue is None else (CLASS_COLOURS[:n_classes] if n_classes <= len(CLASS_COLOURS)
                                        else sns.color_palette("husl", n_classes))
    sns.scatterplot(x=coords[:, 0], y=coords[:, 1], hue=hue, s=5, linewidth=0, ax=ax,
                    legend=n_classes <= 20, palette=palette)
    ax.set(xticks=[], yticks=[], title=title)
    if ax.get_legend() is not None:
        ax.legend(markerscale=4, fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    return ax


def freezing_curve(
    frozen: Sequence[int], accuracy: Sequence[float], ax: plt.Axes | None = None,
    ylabel: str = "kNN accuracy", title: str = "", intervals: Sequence[tuple[float, float]] | None = None,
) -> plt.Axes:
    """Accuracy (%) after fine-tuning with the embeddings and the first k layers frozen, against k (like Fig. 4a),
    with each point's 95 % interval when ``intervals`` gives them."""
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    errors = None
    if intervals:
        errors = [[a - low for a, (low, _) in zip(accuracy, intervals)],
                  [high - a for a, (_, high) in zip(accuracy, intervals)]]
    ax.errorbar(list(frozen), list(accuracy), yerr=errors, capsize=3, **run_style("crops").kwargs())
    percent_axis(ax)
    ax.set(xlabel="frozen: embeddings + first k layers", ylabel=f"{ylabel} (%)", title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return ax


def similarity_heatmap(similarity: np.ndarray, ax: plt.Axes | None = None, title: str = "",
                       vmin: float = -1.0, vmax: float = 1.0) -> plt.Axes:
    """A batch's cosine similarities, anchors (rows) against positives (columns), values written in.

    InfoNCE pushes the diagonal (each anchor with its own positive) up and every
    other cell of its row (the in-batch negatives) down.
    """
    ax = ax or plt.subplots(figsize=(4.5, 4))[1]
    labels = range(1, len(similarity) + 1)
    sns.heatmap(similarity, ax=ax, vmin=vmin, vmax=vmax, cmap="vlag", annot=True, fmt=".2f",
                annot_kws={"fontsize": 7}, square=True, cbar=False, xticklabels=labels, yticklabels=labels)
    ax.set(xlabel="positive j", ylabel="anchor i", title=title)
    return ax


def epoch_boundaries(ax: plt.Axes, batches_per_epoch: int, total: int) -> None:
    """Dotted vertical lines where each new epoch starts (after every ``batches_per_epoch`` batches)."""
    for boundary in range(batches_per_epoch, total, batches_per_epoch):
        ax.axvline(boundary + 0.5, ls=":", lw=1, color="grey")


def accuracy_intervals(rows: pd.DataFrame, ax: plt.Axes | None = None, title: str = "") -> plt.Axes:
    """Each run's accuracies as points with their 95 % interval, one marker per metric (percent).

    ``rows`` is a tidy table (``run``, ``metric``, ``value``, ``low``, ``high``), e.g.
    ``results.tables.rows_frame(...)``: overlapping bars mean "within noise" at a glance.
    """
    metrics = list(dict.fromkeys(rows["metric"]))
    runs = list(dict.fromkeys(rows["run"]))
    ax = ax or plt.subplots(figsize=(max(6, 0.9 * len(runs) + 2), 4))[1]
    for offset, metric in zip(np.linspace(-0.2, 0.2, len(metrics)), metrics):
        part = rows[rows["metric"] == metric].set_index("run").reindex(runs)
        x = np.arange(len(runs)) + offset
        colour, marker = METRIC_STYLES.get(metric, ("black", "o"))
        ax.errorbar(x, 100 * part["value"], yerr=[100 * (part["value"] - part["low"]), 100 * (part["high"] - part["value"])],
                    fmt=marker, color=colour, capsize=3, label=metric.replace("_", " "))
    ax.set_xticks(np.arange(len(runs)), runs, rotation=30, ha="right")
    ax.set(ylabel="accuracy (%)", title=title)
    ax.legend(fontsize=8)
    return ax
