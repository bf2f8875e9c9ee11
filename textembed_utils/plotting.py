"""Seaborn figures shared by the notebooks: learning curves, comparisons, layers, t-SNE maps."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns


def set_style() -> None:
    """One look for every figure in the book; figures inline when running in a Jupyter kernel.

    ``MPLBACKEND=Agg`` (set for headless runs) would otherwise make ``plt.show()``
    a no-op inside papermill's kernel, and the book would lose its figures.
    """
    if "ipykernel" in sys.modules:
        plt.switch_backend("module://matplotlib_inline.backend_inline")
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")


def learning_curves(
    curves: Mapping[str, Sequence[dict]], metric: str = "knn_euclidean", ax: plt.Axes | None = None,
    reference: Mapping[str, float] | None = None, title: str = "",
) -> plt.Axes:
    """kNN accuracy (or another metric) against training batches, one line per run (like Fig. 1/3)."""
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    rows = [{"run": name, "batches": p["step"], metric: p[metric]} for name, pts in curves.items() for p in pts]
    if rows:
        sns.lineplot(pd.DataFrame(rows), x="batches", y=metric, hue="run", marker="o", ax=ax)
    for label, value in (reference or {}).items():
        ax.axhline(value, ls="--", lw=1, color="grey")
        ax.annotate(label, (ax.get_xlim()[0], value), textcoords="offset points", xytext=(4, 3),
                    fontsize=8, color="dimgrey")
    ax.set(xlabel="training batches", ylabel=metric.replace("_", " "), title=title)
    return ax


def loss_curves(losses: Mapping[str, Sequence[float]], ax: plt.Axes | None = None, smooth: int = 10) -> plt.Axes:
    """Training loss per batch (rolling mean over ``smooth`` batches), one line per run."""
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    for name, values in losses.items():
        series = pd.Series(values, dtype=float).rolling(smooth, min_periods=1).mean()
        ax.plot(np.arange(1, len(series) + 1), series, label=name)
    ax.set(xlabel="training batches", ylabel="InfoNCE loss", yscale="symlog")
    ax.legend()
    return ax


def comparison_bars(
    frame: pd.DataFrame, x: str, y: str, hue: str | None = None, ax: plt.Axes | None = None, title: str = ""
) -> plt.Axes:
    """Grouped bars with the value written on each bar."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    sns.barplot(frame, x=x, y=y, hue=hue, ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.3f", fontsize=8)
    ax.set_title(title)
    return ax


def layer_curves(per_layer: Mapping[str, Sequence[float]], ax: plt.Axes | None = None, ylabel: str = "kNN accuracy") -> plt.Axes:
    """Quality of every hidden state (layer 0 = embeddings), one line per model (like Fig. 4b)."""
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    for name, values in per_layer.items():
        ax.plot(range(len(values)), values, marker="o", label=name)
    ax.set(xlabel="layer (0 = embedding output)", ylabel=ylabel)
    ax.legend()
    return ax


def tsne_scatter(coords: np.ndarray, labels: Sequence | None, ax: plt.Axes | None = None, title: str = "") -> plt.Axes:
    """A t-SNE map coloured by class (like Fig. 2)."""
    ax = ax or plt.subplots(figsize=(6, 6))[1]
    hue = None if labels is None else np.asarray(labels)
    n_classes = 0 if hue is None else len(set(hue.tolist()))
    sns.scatterplot(x=coords[:, 0], y=coords[:, 1], hue=hue, s=4, linewidth=0, ax=ax,
                    legend=n_classes <= 20, palette="tab20" if n_classes > 10 else "tab10")
    ax.set(xticks=[], yticks=[], title=title)
    if ax.get_legend() is not None:
        ax.legend(markerscale=3, fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    return ax


def freezing_curve(
    frozen: Sequence[int], accuracy: Sequence[float], ax: plt.Axes | None = None,
    ylabel: str = "kNN accuracy", title: str = "",
) -> plt.Axes:
    """Accuracy after fine-tuning with the embeddings and the first k layers frozen, against k (like Fig. 4a)."""
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    sns.lineplot(x=list(frozen), y=list(accuracy), marker="o", ax=ax)
    ax.set(xlabel="frozen: embeddings + first k layers", ylabel=ylabel, title=title)
    ax.xaxis.get_major_locator().set_params(integer=True)
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
    """Each run's accuracies as points with their 95 % interval, one colour per metric (percent).

    ``rows`` is a tidy table (``run``, ``metric``, ``value``, ``low``, ``high``), e.g.
    ``results.tables.rows_frame(...)``: overlapping bars mean "within noise" at a glance.
    """
    metrics = list(dict.fromkeys(rows["metric"]))
    runs = list(dict.fromkeys(rows["run"]))
    ax = ax or plt.subplots(figsize=(max(6, 0.9 * len(runs) + 2), 4))[1]
    palette = sns.color_palette(n_colors=len(metrics))
    for offset, (metric, colour) in zip(np.linspace(-0.2, 0.2, len(metrics)), zip(metrics, palette)):
        part = rows[rows["metric"] == metric].set_index("run").reindex(runs)
        x = np.arange(len(runs)) + offset
        ax.errorbar(x, 100 * part["value"], yerr=[100 * (part["value"] - part["low"]), 100 * (part["high"] - part["value"])],
                    fmt="o", color=colour, capsize=3, label=metric.replace("_", " "))
    ax.set_xticks(np.arange(len(runs)), runs, rotation=30, ha="right")
    ax.set(ylabel="accuracy (%)", title=title)
    ax.legend(fontsize=8)
    return ax
