"""Reproduction status — the paper's tables beside our numbers, read from the results records.

Every number on the page comes from ``results/<profile>/*.json`` (written by the
chapters) or from the paper's stored tables; nothing is typed in. Records are
read through flattened metric paths (``"bare/crops/knn_euclidean"``), so a
chapter may nest its metrics as it likes; a table whose metrics are missing is
marked "not run here" with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..params import Param
from ..results import paper_claims, paper_table, read_records
from .common import PROFILE
from .common import validate as _validate

SPEC: dict[str, Param] = {**PROFILE}

REPRODUCED, NOT_REPRODUCED, NOT_RUN = "reproduced", "not reproduced", "not run here"


def validate(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's settings (only the profile)."""
    return _validate(namespace, SPEC)


def flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested metrics → ``{"a/b/c": value}`` for every numeric leaf."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, path + "/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[path] = float(value)
    return flat


def find(flat: Mapping[str, float], *parts: str, exclude: tuple[str, ...] = ("sweep", "curve", "layer", "freeze")) -> float | None:
    """The value of the shortest path whose '/'-separated segments include every one of ``parts``."""
    hits = [path for path in flat
            if all(p in path.split("/") for p in parts) and not any(x in path for x in exclude)]
    return flat[min(hits, key=len)] if hits else None


class Status:
    """Reads one profile's records and builds the page's tables."""

    def __init__(self, profile: str):
        self.profile = profile
        self.records = read_records(profile)
        self.flat = {name: flatten(r["metrics"]) for name, r in self.records.items()}

    def metric(self, experiment: str, *parts: str) -> float | None:
        return find(self.flat.get(experiment, {}), *parts)

    def runs_overview(self) -> pd.DataFrame:
        """Which chapter records exist, when and on what they ran."""
        rows = {name: {"created": r["created"], "device": r["device"], "wall time (s)": r.get("wall_time_s"),
                       "git commit": str(r.get("git_commit", ""))[:12], "metrics": len(self.flat[name])}
                for name, r in self.records.items()}
        return pd.DataFrame.from_dict(rows, orient="index")

    def _ours(self, experiment: str, starts: tuple[str, ...], metric: str, scale: float = 100.0) -> dict[str, float]:
        values = {}
        for start in starts:
            for augmentation in ("untrained", "dropout", "crops"):
                value = self.metric(experiment, start, augmentation, metric)
                if value is not None:
                    values[f"{start}/{augmentation}"] = scale * value
        return values

    @staticmethod
    def _crops_vs_dropout(values: Mapping[str, float]) -> tuple[str, str]:
        starts = sorted({k.split("/")[0] for k in values})
        pairs = [(s, values[f"{s}/crops"], values[f"{s}/dropout"]) for s in starts
                 if f"{s}/crops" in values and f"{s}/dropout" in values]
        if not pairs:
            return NOT_RUN, "no crops/dropout pair in the records"
        wins = [s for s, crops, dropout in pairs if crops > dropout]
        detail = "; ".join(f"{s}: crops {c:.1f} vs dropout {d:.1f}" for s, c, d in pairs)
        return (REPRODUCED if len(wins) == len(pairs) else NOT_REPRODUCED), detail

    def table2(self) -> tuple[pd.DataFrame, str, str]:
        """Table 2: kNN accuracy (%), paper (ICLR and average) beside ours (chapter 3, Euclidean)."""
        paper = paper_table("Table 2").loc[["ICLR", "Average"]].T.rename(columns=lambda c: f"paper: {c}")
        ours = self._ours("03_knn", ("bare", "scratch", "pretrained"), "knn_euclidean")
        references = {k: 100 * v for k, v in self.flat.get("03_knn", {}).items()
                      if k.startswith("reference/") and k.endswith("/knn_euclidean")}
        status, detail = self._crops_vs_dropout(ours)
        return _beside(paper, {**ours, **references}, f"ours ({self.profile}, wiki)"), status, detail

    def table_s1(self) -> tuple[pd.DataFrame, str, str]:
        """Table S1: MTEB block averages (%), paper (MPNet) beside ours (chapter 2)."""
        paper = paper_table("Table S1")[["MPNet", "MPNet + dropout", "MPNet + crops"]]
        flat = self.flat.get("02_mteb", {})
        ours = {run: {block.split("/")[-1]: 100 * v for block, v in flat.items() if block.startswith(run + "/block")}
                for run in dict.fromkeys("/".join(k.split("/")[:2]) for k in flat)}
        frame = paper.rename(columns=lambda c: f"paper: {c}")
        for run, blocks in ours.items():
            frame[f"ours: {run}"] = pd.Series({**blocks, "Block average": 100 * flat.get(f"{run}/block_average", float("nan"))})
        averages = {run: 100 * v for run, v in ((r, flat.get(f"{r}/block_average")) for r in ours) if v is not None}
        status, detail = self._crops_vs_dropout(averages)
        tasks = self.records.get("02_mteb", {}).get("config", {}).get("tasks")
        if tasks == "local":
            detail += " (local wiki tasks: clustering and classification only)"
        return frame.round(1), status, detail

    def table1(self) -> tuple[pd.DataFrame | None, str, str]:
        """Table 1: the paper's 19 MTEB tasks — only comparable when chapter 2 ran them (paper profile)."""
        record = self.records.get("02_mteb")
        if record is None or record["config"].get("tasks") != "paper":
            return None, NOT_RUN, ("the paper's MTEB tasks need the Hugging Face hub; this profile ran local "
                                   "tasks instead (chapter 2, Table S1 row above)")
        paper = paper_table("Table 1")[["MPNet", "MPNet + dropout", "MPNet + crops"]]
        flat = self.flat["02_mteb"]
        ours = {f"ours: {run}": {t: 100 * flat[f"{run}/{t}"] for t in paper.index if f"{run}/{t}" in flat}
                for run in ("pretrained/untrained", "pretrained/dropout", "pretrained/crops")}
        frame = paper.rename(columns=lambda c: f"paper: {c}").join(pd.DataFrame(ours))
        wins = (frame["ours: pretrained/crops"] > frame["ours: pretrained/dropout"]).sum()
        status = REPRODUCED if wins >= len(frame) / 2 else NOT_REPRODUCED
        return frame.round(1), status, f"crops beat dropout on {wins} of {len(frame)} tasks (paper: 16 of 19)"

    def table_s6(self) -> tuple[pd.DataFrame, str, str]:
        """Table S6: from-scratch models and the bare embedding layer (chapter 5, fallback chapter 1)."""
        paper = paper_table("Table S6").loc[["ICLR", "Average"]].T.rename(columns=lambda c: f"paper: {c}")
        ours: dict[str, float] = {}
        for experiment in ("01_augmentations", "05_from_scratch"):
            ours.update(self._ours(experiment, ("bare", "scratch", "pretrained"), "knn_euclidean"))
        status, detail = self._crops_vs_dropout({k: v for k, v in ours.items() if not k.startswith("pretrained")})
        return _beside(paper, ours, f"ours ({self.profile}, wiki)"), status, detail

    def learning_speed(self) -> tuple[str, str]:
        """Claim 'fast': share of the final kNN gain reached by batch 100, from chapter 1's curves."""
        curves = self.records.get("01_augmentations", {}).get("curves", {})
        lines = []
        for name, points in curves.items():
            if not name.endswith("/crops") or len(points) < 3:
                continue
            first, last = points[0]["knn_euclidean"], points[-1]["knn_euclidean"]
            early = next((p for p in points if p["step"] >= 100), points[-1])
            if last > first:
                lines.append((name, early["step"], (early["knn_euclidean"] - first) / (last - first)))
        if not lines:
            return NOT_RUN, "no learning curve with crops in chapter 1's record"
        status = REPRODUCED if all(share >= 0.5 for _, _, share in lines) else NOT_REPRODUCED
        return status, "; ".join(f"{n}: {100 * s:.0f} % of the final gain by batch {b}" for n, b, s in lines)

    def claims(self) -> pd.DataFrame:
        """Each of the paper's claims with this profile's status and evidence."""
        _, t2, t2_detail = self.table2()
        _, s1, s1_detail = self.table_s1()
        _, s6, s6_detail = self.table_s6()
        fast, fast_detail = self.learning_speed()
        evidence = {
            "crops_beat_dropout_mteb": (s1, s1_detail, "chapter 2"),
            "crops_beat_dropout_knn": (t2, t2_detail, "chapter 3"),
            "fast": (fast, fast_detail, "chapter 1"),
            "scratch_close": (s6, "crops vs dropout from random weights: " + s6_detail, "chapters 1, 5"),
            "sentence_adaptation": self._reported("04_domain_adaptation", "chapter 4"),
            "last_layers": self._reported("06_layers", "chapter 6"),
        }
        rows = [{"claim": text, "status": evidence[key][0], "this run": evidence[key][1], "where": evidence[key][2]}
                for key, text in paper_claims().items() if key in evidence]
        return pd.DataFrame(rows)

    def _reported(self, experiment: str, where: str) -> tuple[str, str, str]:
        """A claim judged inside its chapter: its record's own ``verdict`` entry when present."""
        record = self.records.get(experiment)
        if record is None:
            return NOT_RUN, f"no '{experiment}' record for this profile", where
        verdict = record["metrics"].get("verdict") or record.get("notes") or "see the chapter"
        status = verdict if verdict in (REPRODUCED, NOT_REPRODUCED) else "see chapter"
        return status, str(record.get("notes") or verdict), where


def _beside(paper: pd.DataFrame, ours: Mapping[str, float], label: str) -> pd.DataFrame:
    """Paper rows (models) with their columns, then our models as extra rows in an ``ours`` column."""
    frame = paper.copy()
    for name, value in ours.items():
        frame.loc[name, label] = value
    return frame.round(1)
