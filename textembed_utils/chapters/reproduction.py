"""The reproduction-status page: every claim and table of the paper beside this profile's records.

Reads what the chapters wrote (``results/<profile>/*.json``): the tidy ``rows``
of accuracies with their intervals, the ``findings`` (paired comparisons with
their verdicts) and, for chapters whose claim is a composite, the record's own
``verdict``. Nothing is searched by name: a table selects rows by their
``start``/``augmentation``/``metric`` columns and a claim by its findings' ``claim``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..environment_lock import describe, lock_digest
from ..params import Param
from ..results import paper_claims, paper_table, read_records
from ..results.findings import Finding
from ..results.tables import rows_frame, stored_accuracy_table
from ..results.verdicts import Verdict, combine
from .common import PROFILE
from .common import validate as _validate

SPEC: dict[str, Param] = {**PROFILE}

CROPS_BEAT_DROPOUT = "crops beat dropout"  # the claim name chapters 1, 2, 3 and 5 give that comparison
# The claim "most of the gain comes early" is read off learning curves, which carry no per-text outcomes.
EARLY_BATCH = 100


def validate(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook's settings (only the profile)."""
    return _validate(namespace, SPEC)


def _finding(stored: Mapping[str, Any]) -> Finding:
    return Finding(**{**stored, "verdict": Verdict(stored["verdict"])})


class Status:
    """Reads one profile's records and builds the page's tables and claims."""

    def __init__(self, profile: str):
        self.profile = profile
        self.records = read_records(profile)

    def rows(self, experiment: str) -> pd.DataFrame:
        """The tidy accuracy rows of one chapter's record (empty when the chapter has not run)."""
        return rows_frame(self.records.get(experiment, {}).get("rows", []))

    def findings(self, experiment: str, claim: str | None = None) -> list[Finding]:
        """The findings of one chapter's record, all or those of one ``claim``."""
        stored = self.records.get(experiment, {}).get("findings", [])
        return [_finding(f) for f in stored if claim is None or f["claim"] == claim]

    def machines(self) -> list[str]:
        """The CPUs (or devices) the records were written on, each once."""
        return list(dict.fromkeys(record.get("machine", {}).get("description", record["device"])
                                  for record in self.records.values()))

    def environments(self) -> list[str]:
        """The environments the records were made in, each once: the locked one, or how another one differed."""
        current = lock_digest()
        return list(dict.fromkeys(describe(record.get("environment_lock"), current) for record in self.records.values()))

    def runs_overview(self) -> pd.DataFrame:
        """Which chapter records exist, how long each chapter ran, what it holds, and when and from which commit."""
        rows = {}
        for name, record in self.records.items():
            seconds = record.get("wall_time_s")
            rows[name] = {"wall time (s)": None if seconds is None else round(seconds),
                          "accuracy rows": len(record.get("rows", [])), "findings": len(record.get("findings", [])),
                          "written (UTC)": record["created"][:16].replace("T", " "),
                          "commit": str(record.get("git_commit", ""))[:8]}
        return pd.DataFrame.from_dict(rows, orient="index")

    def _claim_from_findings(self, experiments: tuple[str, ...], claim: str, where: str) -> tuple[str, str, str]:
        found = [f for experiment in experiments for f in self.findings(experiment, claim)]
        if not found:
            return Verdict.NOT_MEASURED.value, f"no '{claim}' comparison in the records of {', '.join(experiments)}", where
        return combine(f.verdict for f in found).value, "; ".join(f.sentence() for f in found), where

    def _claim_from_verdict(self, experiment: str, where: str) -> tuple[str, str, str]:
        """A composite claim judged inside its chapter: the record's own verdict and its evidence."""
        record = self.records.get(experiment)
        if record is None:
            return Verdict.NOT_MEASURED.value, f"no '{experiment}' record for this profile", where
        return record["metrics"].get("verdict", Verdict.NOT_MEASURED.value), str(record.get("notes", "")), where

    def learning_speed(self) -> tuple[str, str, str]:
        """Claim 'fast': the share of the final kNN gain reached by batch ``EARLY_BATCH``, from chapter 1's curves.

        Learning curves are point estimates (no per-text outcomes are kept for every
        step), so this claim is reported as indicative, never as reproduced.
        """
        curves = self.records.get("01_augmentations", {}).get("curves", {})
        lines = []
        for name, points in curves.items():
            if "/crops" not in name or len(points) < 3:
                continue
            first, last = points[0]["knn_euclidean"], points[-1]["knn_euclidean"]
            early = next((p for p in points if p["step"] >= EARLY_BATCH), points[-1])
            if last > first:
                lines.append(f"{name}: {100 * (early['knn_euclidean'] - first) / (last - first):.0f} % of the final "
                             f"gain by batch {early['step']} (of {points[-1]['step']})")
        if not lines:
            return Verdict.NOT_MEASURED.value, "no learning curve with crops and a gain in chapter 1's record", "chapter 1"
        return "indicative (curve points carry no interval)", "; ".join(lines), "chapter 1"

    def claims(self) -> pd.DataFrame:
        """Each of the paper's claims with this profile's status and evidence."""
        evidence = {
            "crops_beat_dropout_mteb": self._claim_from_findings(("02_mteb",), CROPS_BEAT_DROPOUT, "chapter 2"),
            "crops_beat_dropout_knn": self._claim_from_findings(("03_knn",), CROPS_BEAT_DROPOUT, "chapter 3"),
            "fast": self.learning_speed(),
            "scratch_close": self._claim_from_findings(("05_from_scratch",), CROPS_BEAT_DROPOUT, "chapter 5"),
            "sentence_adaptation": self._claim_from_verdict("04_domain_adaptation", "chapter 4"),
            "last_layers": self._claim_from_verdict("06_layers", "chapter 6"),
        }
        return pd.DataFrame([{"claim": text, "status": evidence[key][0], "this run": evidence[key][1],
                              "where": evidence[key][2]} for key, text in paper_claims().items() if key in evidence])

    def ours_beside(self, table: str, experiment: str, paper_rows: list[str], metric: str = "knn_euclidean",
                    runs: tuple[str, ...] | None = None) -> pd.DataFrame:
        """The paper's ``paper_rows`` of ``table`` (%, per model) with our runs as further rows.

        Our rows carry the accuracy (%), its 95 % interval and the number of test texts;
        the paper's rows carry the paper's columns. ``runs`` keeps only those of our runs.
        """
        paper = paper_table(table).loc[paper_rows].T.rename(columns=lambda c: f"paper: {c}")
        rows = self.rows(experiment)
        if "part" in rows and (rows["part"] == "runs").any():  # the chapter's main runs, not its side studies
            rows = rows[rows["part"] == "runs"]
        ours = rows[rows["metric"] == metric] if len(rows) else rows
        if runs is not None and len(ours):
            ours = ours[ours["run"].isin(runs)]
        mine = pd.DataFrame({f"ours: {self.profile} (%)": (100 * ours["value"]).round(1).to_numpy(),
                             "ours: 95 % interval": [f"{100 * lo:.1f}–{100 * hi:.1f}"
                                                     for lo, hi in zip(ours["low"], ours["high"])],
                             "test texts": [f"{int(n):,}" for n in ours["n_test"]]}, index=ours["run"].to_numpy())
        return pd.concat([paper.round(1).astype(object), mine.astype(object)]).fillna("")

    def table2(self) -> tuple[pd.DataFrame, str, str]:
        """Table 2: kNN accuracy (%), paper (ICLR and average) beside ours (chapter 3, Euclidean)."""
        status, detail, _ = self._claim_from_findings(("03_knn",), CROPS_BEAT_DROPOUT, "chapter 3")
        return self.ours_beside("Table 2", "03_knn", ["ICLR", "Average"]), status, detail

    def table_s6(self) -> tuple[pd.DataFrame, str, str]:
        """Table S6: from-scratch models and the bare embedding layer (chapter 5)."""
        status, detail, _ = self._claim_from_findings(("05_from_scratch",), CROPS_BEAT_DROPOUT, "chapter 5")
        return self.ours_beside("Table S6", "05_from_scratch", ["ICLR", "Average"]), status, detail

    def mteb(self, table: str = "Table S1") -> tuple[pd.DataFrame | None, str, str]:
        """Table S1 (block averages, %) or Table 1 (tasks, %): the paper's MPNet columns beside chapter 2's.

        Table 1's rows are the paper's 19 hub tasks, so it is only filled when chapter 2
        ran them (the paper profile); the local wiki tasks fill Table S1's blocks.
        """
        record = self.records.get("02_mteb")
        if record is None:
            return None, Verdict.NOT_MEASURED.value, "chapter 2 has not run for this profile"
        status, detail, _ = self._claim_from_findings(("02_mteb",), CROPS_BEAT_DROPOUT, "chapter 2")
        frame = paper_table(table)[["MPNet", "MPNet + dropout", "MPNet + crops"]].rename(columns=lambda c: f"paper: {c}")
        for run, scores in record["metrics"].items():
            if table == "Table S1":
                ours = {key.removeprefix("block/"): value for key, value in scores.items() if key.startswith("block/")}
                ours["Block average"] = scores.get("block_average", float("nan"))
            else:
                ours = {task: scores[task] for task in frame.index if task in scores}
            frame[f"ours: {run}"] = pd.Series({row: 100 * value for row, value in ours.items()}, dtype=float)
        if record["config"].get("tasks") == "local":
            detail += " (local wiki tasks: clustering and classification only)"
        return frame.round(1), status, detail

    def beyond_the_paper(self) -> pd.DataFrame | None:
        """Chapter 8's static-embedding comparison (kNN accuracies with intervals), when it ran."""
        rows = self.rows("08_static")
        if not len(rows):
            return None
        return stored_accuracy_table(rows)
