"""Short human-readable summaries of what ``textembed`` did, for the terminal.

The full record is ``report.json``; these few lines are what a user reads first.
"""

from __future__ import annotations

from pathlib import Path

from .evaluation.scoring import Scores


def _seconds(value: float) -> str:
    return f"{value / 60:.1f} min" if value >= 120 else f"{value:.1f} s"


def _processes(training: dict) -> str:
    """`` in 2 processes (gloo)`` for a run under torchrun; nothing for one process (or an older report)."""
    processes = training.get("processes") or {"count": 1}
    if processes["count"] == 1:
        return ""
    return f" in {processes['count']} processes ({processes['backend']}, {processes['pairs_per_process']} pairs each)"


def finetune_summary(report: dict, out: Path) -> str:
    """The outcome of ``textembed finetune`` in a few lines: data, training, accuracy, files, times."""
    corpus, model, training = report["corpus"], report["model"], report["training"]
    config = training["config"]
    epochs = f"{training['epochs']:g} epoch{'' if training['epochs'] == 1 else 's'}"
    lines = [
        f"Fine-tuned {model['base']} ({model['init']}) on '{corpus['name']}' with {config['augmentation']}: "
        f"{training['total_steps']} steps of {config['batch_size']} ({epochs}) "
        f"on {training['device']}{_processes(training)}, {training['seconds_per_step']:.2f} s/step.",
        f"Corpus: {corpus['texts']:,} texts ({corpus['dropped_empty']:,} empty dropped); "
        f"{corpus['usable_for_training']:,} usable for training, "
        f"{corpus['dropped_for_training']:,} not ({corpus['dropped_for_training_reason'].split(';')[0]}).",
    ]
    if training["loss_first"] is not None:
        lines.append(f"InfoNCE loss: {training['loss_first']:.3f} (first step) → {training['loss_last']:.3f} (last).")
    before, after = report["knn_accuracy_before"], report["knn_accuracy_after"]
    if before is not None and after is not None:
        ev = report["evaluation"]
        lines.append(f"kNN accuracy (k={ev['k']}, {ev['labelled_texts_used']:,} labelled texts, "
                     f"{'stratified ' if ev['stratify'] else ''}{1 - ev['test_size']:.0%}/{ev['test_size']:.0%} split, "
                     f"seed {ev['split_seed']}):")
        lines += [f"  {metric:<9}  before {before[metric]:.3f}   after {after[metric]:.3f}   "
                  f"({after[metric] - before[metric]:+.3f})   after: 95% interval "
                  f"{report['knn_interval_95_after'][metric][0]:.3f}–{report['knn_interval_95_after'][metric][1]:.3f}"
                  for metric in before]
        lines.append(f"  ({ev['test_texts']:,} test texts; {ev['interval']})")
    else:
        lines.append("kNN accuracy: not measured (no labels; pass --label-column).")
    files = ["model (SentenceTransformer folder)",
             f"embeddings.npy ({' × '.join(map(str, report['outputs']['embeddings']['shape']))})"]
    if report["outputs"]["tsne"].get("file"):
        files.append(report["outputs"]["tsne"]["file"])
    if report["outputs"]["tsne"].get("map"):
        files.append(report["outputs"]["tsne"]["map"])
    files.append("report.json")
    lines.append(f"Wrote {out}: {', '.join(files)}.")
    timings = report["timings_seconds"]
    lines.append("Time: " + ", ".join(f"{name.replace('_', ' ')} {_seconds(value)}"
                                      for name, value in timings.items() if name != "total")
                 + f"; total {_seconds(timings['total'])}.")
    return "\n".join(lines)


def scores_summary(scores: Scores, model: str, corpus: str, texts: int) -> str:
    """Accuracy scores of ``textembed evaluate`` as an aligned table, with 95 % intervals."""
    lines = [f"{model} on '{corpus}' ({texts:,} labelled texts, stratified 90/10 split, seed 42; "
             f"{scores.n_test:,} test texts, 95% Wilson intervals):"]
    lines += [f"  {name.replace('_', ' '):<14} {acc.value:.3f}  [{acc.low:.3f}, {acc.high:.3f}]"
              for name, acc in scores.accuracies.items()]
    return "\n".join(lines)
