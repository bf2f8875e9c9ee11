"""The reproduction-status page: every claim and table of the paper beside this profile's records.

Reads what the chapters wrote (``results/<profile>/*.json``): the tidy ``rows``
of accuracies with their intervals, the ``findings`` (paired comparisons with
their verdicts) and, for chapters whose claim is a composite, the record's own
``verdict``. Nothing is searched by name: a table selects rows by their
``start``/``augmentation``/``metric`` columns and a claim by its findings' ``claim``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..environment_lock import describe, lock_digest
from ..evaluation.intervals import paired_difference, paired_share
from ..experiments import CURVE_OUTCOMES
from ..params import Param
from ..paths import benchmark_record
from ..profiles import load_profile
from ..results import paper_claims, paper_table, read_records
from ..results.claims import Claim, ClaimVerdict, Estimate, Judgement, Setup, judge
from ..results.consistency import Conflict, conflicts, measurements
from ..results.findings import Finding
from ..results.tables import blocks_like_with_like, rows_frame, stored_accuracy_table
from ..results.verdicts import Verdict
from .common import PROFILE
from .common import validate as _validate
from .domain_adaptation import MOST_OF_THE_GAIN
from .from_scratch import FINE_TUNED, FROM_SCRATCH_GAP, PAPER_COUNTERPARTS, REFERENCE_START

SPEC: dict[str, Param] = {**PROFILE}

CROPS_BEAT_DROPOUT = "crops beat dropout"  # the claim name chapters 1, 2, 3 and 5 give that comparison
EARLY_BATCH = 100  # the claim "most of the gain comes early": the share reached by this batch


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
        self.settings = load_profile(profile)
        self.setup, self.corpus = Setup.from_profile(self.settings), self.settings["corpus"]

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

    def _findings_of(self, experiment: str, claim_ends: str) -> list[Finding]:
        """The findings of ``experiment`` whose claim ends with ``claim_ends`` (chapters prefix it with a source)."""
        return [f for f in self.findings(experiment) if f.claim.endswith(claim_ends)]

    def start_of(self, experiment: str, run: str) -> str:
        """The start of the run named ``run`` in ``experiment``'s record (its rows carry it); the name if absent."""
        return next((row["start"] for row in self.records.get(experiment, {}).get("rows", [])
                     if row["run"] == run and row.get("start")), run)

    def _crops_beat_dropout(self, claim: Claim, experiment: str, per_task: bool = False) -> Judgement:
        found = self.findings(experiment, CROPS_BEAT_DROPOUT)
        starts = {self.start_of(experiment, f.first) for f in found}
        estimates = [Estimate(self.start_of(experiment, f.first) + (f" {f.metric}" if per_task else ""),
                              f.difference, f.low, f.high, f.n_test) for f in found]
        proxy = f"{len(starts)} stand-in start(s) on the {self.corpus} corpus, not MPNet on the paper's data"
        return judge(claim, self.setup, estimates, proxy=proxy,
                     missing=f"no crops-vs-dropout comparison in the {experiment} record")

    def _mteb_count(self, claim: Claim) -> Judgement:
        local = self.records.get("02_mteb", {}).get("config", {}).get("tasks") == "local"
        judgement = self._crops_beat_dropout(claim, "02_mteb", per_task=True)
        if local and judgement.status is not ClaimVerdict.NOT_MEASURED:
            reason = (f"{judgement.reason}; counted over our local task(s) with per-text outcomes, "
                      "which says nothing about the paper's 19 hub tasks")
            return Judgement(judgement.status, judgement.ours, reason)
        return judgement

    def _early_share(self, claim: Claim) -> Judgement:
        """Chapter 1's crops curves: the share of the final gain reached by batch ``EARLY_BATCH``, with an interval.

        Each curve point keeps its per-text outcomes, so the share is bootstrapped over
        the curve's test texts; a run whose final gain is within noise has no share.
        """
        curves = self.records.get("01_augmentations", {}).get("curves", {})
        estimates, flat = [], []
        for name, points in curves.items():
            if "/crops" not in name or len(points) < 3 or CURVE_OUTCOMES not in points[0]:
                continue
            first, last = (np.array(list(p[CURVE_OUTCOMES]), dtype=int) for p in (points[0], points[-1]))
            early = next((p for p in points if p["step"] >= EARLY_BATCH), points[-1])
            if paired_difference(last, first).low <= 0:
                flat.append(name)
                continue
            share = paired_share(first, np.array(list(early[CURVE_OUTCOMES]), dtype=int), last)
            estimates.append(Estimate(f"{name} at batch {early['step']} of {points[-1]['step']}", share.value,
                                      share.low, share.high, share.n_test, share=True))
        untestable = (f"no crops run gained beyond the noise ({', '.join(flat)}), so there is no gain to share"
                      if flat and not estimates else None)
        return judge(claim, self.setup, estimates, untestable=untestable,
                     proxy=f"curve points on a seeded subset of the {self.corpus} corpus",
                     missing="no learning curve with per-text outcomes in chapter 1's record")

    def _sentence_adaptation(self, claim: Claim) -> Judgement:
        found = self._findings_of("04_domain_adaptation", MOST_OF_THE_GAIN)
        estimates = [Estimate(f"{f.first} − halfway to in-domain", f.difference, f.low, f.high, f.n_test, bound=0.0)
                     for f in found]
        return judge(claim, self.setup, estimates, proxy="docstrings as the out-of-domain source",
                     missing="chapter 4 has not run for this profile")

    def _scratch_gap(self, claim: Claim) -> Judgement:
        """Chapter 5: how far each from-scratch start with crops stays below the fine-tuned pretrained start.

        The bound of each start is the paper's Table S6 gap of its counterpart
        (average over datasets: fine-tuned MPNet minus it).
        """
        table = paper_table("Table S6").loc["Average"]
        bounds = {start: (table[FINE_TUNED] - table[column]) / 100
                  for column, (start, augmentation) in PAPER_COUNTERPARTS.items()
                  if augmentation == "crops" and start != REFERENCE_START}
        estimates = []
        for f in self._findings_of("05_from_scratch", FROM_SCRATCH_GAP):
            start = self.start_of("05_from_scratch", f.first)
            estimates.append(Estimate(f"{f.second} − {f.first}", -f.difference, -f.high, -f.low, f.n_test,
                                      bound=bounds.get(start, max(bounds.values()))))
        reference = self.settings["starts"][REFERENCE_START]["model"]
        return judge(claim, self.setup, estimates, missing="no gap comparison in chapter 5's record",
                     proxy=f"the fine-tuned reference is {reference}, not MPNet; small from-scratch models")

    def _last_layers(self, claim: Claim) -> Judgement:
        metrics = self.records.get("06_layers", {}).get("metrics", {})
        gain = next(iter(self._findings_of("06_layers", "improves on the untrained model")), None)
        share = metrics.get("last_two_share")
        estimates = [Estimate("last two layers' share of the full gain", share["value"], share["low"],
                              share["high"], share["n_test"], share=True)] if share else []
        untestable = None
        if gain is not None and share is None:
            untestable = (f"full fine-tuning gave no gain beyond the noise ({gain.sentence()}), "
                          "so there is no gain to match")
        return judge(claim, self.setup, estimates, untestable=untestable, proxy="a 6-layer sentence model",
                     missing="chapter 6 has not run for this profile")

    def judgements(self) -> dict[str, tuple[Claim, Judgement]]:
        """Every claim of the paper with its judgement on this profile's records."""
        judged = {
            "crops_beat_dropout_mteb": self._mteb_count,
            "crops_beat_dropout_knn": lambda c: self._crops_beat_dropout(c, "03_knn"),
            "fast": self._early_share,
            "sentence_adaptation": self._sentence_adaptation,
            "scratch_close": self._scratch_gap,
            "last_layers": self._last_layers,
        }
        return {key: (claim, judged[key](claim)) for key, claim in paper_claims().items() if key in judged}

    def paper_profile_needs(self) -> str:
        """What the ``paper`` profile would take, from ``bench_paper_estimate``'s record when it is there."""
        needs = "a GPU, and internet to download MPNet-base, the ICLR dataset and the MTEB tasks"
        path = benchmark_record("bench_paper_estimate")
        if not path.exists():
            return needs
        record = json.loads(path.read_text())
        estimates = record["figures"]["estimates"]
        return (f"{needs}; measured on a {record['machine']['cpu']} CPU ({record['machine']['cores']} cores), one "
                f"ICLR epoch of an MPNet-size model would take {estimates['iclr_epoch']['hours']:.1f} h and 100 "
                f"batches {60 * estimates['paper_100_batches']['hours']:.0f} min (the paper: about 1 min on one GPU)")

    def bottom_line(self) -> list[str]:
        """Three lines: what this profile shows, what it cannot test, and what the paper profile would need."""
        judged = self.judgements().values()

        def named(*verdicts: ClaimVerdict) -> str:
            claims = [f"{claim.text.split(' (')[0]} ({judgement.status.value})"
                      for claim, judgement in judged if judgement.status in verdicts]
            return "; ".join(claims) or "none"

        shown = named(ClaimVerdict.REPRODUCED, ClaimVerdict.CONSISTENT, ClaimVerdict.CONTRADICTED,
                      ClaimVerdict.NOT_REPRODUCED)
        return [f"**What the {self.profile} profile shows:** {shown}.",
                f"**What it cannot test or settle:** {named(ClaimVerdict.NOT_TESTABLE, ClaimVerdict.WITHIN_NOISE, ClaimVerdict.NOT_MEASURED)}.",
                f"**What the paper profile would need:** {self.paper_profile_needs()}."]

    def conflicts(self) -> list[Conflict]:
        """Models that have two values for one evaluation and metric across this build's records (should be none)."""
        return conflicts(self.records)

    def claims(self) -> pd.DataFrame:
        """One row per claim: the claim, the paper's figure, ours (with intervals and n), the verdict and its reason."""
        return pd.DataFrame([{"claim": claim.text, "paper": claim.paper, "ours": judgement.ours,
                              "verdict": judgement.status.value, "why": judgement.reason}
                             for claim, judgement in self.judgements().values()])

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

    def _judgement(self, key: str) -> tuple[str, str]:
        claim, judgement = self.judgements()[key]
        return judgement.status.value, f"{judgement.reason} (the claim: {claim.text.rstrip('.')})"

    def table2(self) -> tuple[pd.DataFrame, str, str]:
        """Table 2: kNN accuracy (%), paper (ICLR and average) beside ours (chapter 3, Euclidean)."""
        return self.ours_beside("Table 2", "03_knn", ["ICLR", "Average"]), *self._judgement("crops_beat_dropout_knn")

    def table_s6(self) -> tuple[pd.DataFrame, str, str]:
        """Table S6: from-scratch models and the bare embedding layer (chapter 5)."""
        return self.ours_beside("Table S6", "05_from_scratch", ["ICLR", "Average"]), *self._judgement("scratch_close")

    def mteb(self, table: str = "Table S1") -> tuple[pd.DataFrame | None, str, str]:
        """Table S1 (block averages, %) or Table 1 (tasks, %): the paper's MPNet columns beside chapter 2's.

        Table 1's rows are the paper's 19 hub tasks, so it is only filled when chapter 2
        ran them (the paper profile); the local wiki tasks fill Table S1's blocks.
        """
        record = self.records.get("02_mteb")
        if record is None:
            return None, ClaimVerdict.NOT_MEASURED.value, "chapter 2 has not run for this profile"
        status, detail = self._judgement("crops_beat_dropout_mteb")
        frame = paper_table(table)[["MPNet", "MPNet + dropout", "MPNet + crops"]].rename(columns=lambda c: f"paper: {c}")
        for run, scores in record["metrics"].items():
            if table == "Table S1":
                ours = {key.removeprefix("block/"): value for key, value in scores.items() if key.startswith("block/")}
                ours["Block average"] = scores.get("block_average", float("nan"))
            else:
                ours = {task: scores[task] for task in frame.index if task in scores}
            frame[f"ours: {run}"] = pd.Series({row: 100 * value for row, value in ours.items()}, dtype=float)
        return (blocks_like_with_like(frame) if table == "Table S1" else frame.round(1)), status, detail

    def beyond_the_paper(self) -> pd.DataFrame | None:
        """Chapter 7's static-embedding comparison (kNN accuracies with intervals), when it ran."""
        rows = self.rows("07_static")
        if not len(rows):
            return None
        return stored_accuracy_table(rows)
