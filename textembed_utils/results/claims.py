"""The paper's claims as typed values, and the one rule that judges a claim from its evidence.

A claim says one of four kinds of thing, and each kind is tested as what it says:

- ``SIGN``: a difference has the paper's sign ("crops beat dropout"). Every
  comparison's interval must exclude zero on the paper's side; one that excludes
  it on the other side contradicts the claim.
- ``COUNT``: the sign holds on a share of items ("16 of 19 tasks"). Holding on
  at least the paper's share of our items supports it; holding on fewer than
  that share even if every undecided item went the paper's way contradicts it.
- ``MAGNITUDE``: a gap stays under a bound ("within 3.4 p.p."). The whole
  interval of the gap under the bound supports it, the whole interval above
  contradicts it.
- ``SHARE``: a part of a gain is reached ("most of the gain by batch 100"). The
  whole interval of the share above the bound supports it, below contradicts it.

Anything else is *within noise*. Whether support means *reproduced* depends on
the setup: only the paper's own model and data (the ``paper`` profile) can
reproduce a claim; any other setup is a *proxy*, whose support is *consistent on
a proxy*. A claim that needs what the setup lacks (a token-level pre-trained
base), or whose quantity does not exist here (a gain of zero has no share), is
*not testable here*.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """What a claim says, and so how it is tested."""

    SIGN = "sign"
    COUNT = "count"
    MAGNITUDE = "magnitude"
    SHARE = "share"


class ClaimVerdict(str, Enum):
    """A claim's verdict; its value is the word the book prints."""

    REPRODUCED = "reproduced"  # supported on the paper's setup
    NOT_REPRODUCED = "not reproduced"  # contradicted on the paper's setup
    CONSISTENT = "consistent on a proxy"
    CONTRADICTED = "contradicted on a proxy"
    WITHIN_NOISE = "within noise"
    NOT_TESTABLE = "not testable here"
    NOT_MEASURED = "not measured"

    def __str__(self) -> str:
        return self.value


# What a claim may need of a setup beyond a corpus and a model, and how the book names it.
NEEDS = {"token_pretrained_base": "a base encoder pre-trained at the token level only (the paper's MPNet-base)"}


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: its words, its kind, the paper's figure and what testing it needs.

    ``bound`` is the kind's threshold: for ``COUNT`` the paper's share of items
    (16/19), for ``SHARE`` the share that counts as "most", for ``MAGNITUDE`` the
    gap in p.p. when one bound serves every comparison (else each ``Estimate``
    carries its own).
    """

    key: str
    text: str
    kind: Kind
    paper: str
    bound: float | None = None
    needs: str | None = None  # a key of NEEDS

    @classmethod
    def from_dict(cls, key: str, stored: Mapping) -> "Claim":
        return cls(key=key, text=stored["text"], kind=Kind(stored["kind"]), paper=stored["paper"],
                   bound=stored.get("bound"), needs=stored.get("needs"))


@dataclass(frozen=True)
class Setup:
    """What a profile is: the paper's own model and data or a proxy, and what it has that a claim may need."""

    paper: bool
    has: frozenset[str] = frozenset()

    @classmethod
    def from_profile(cls, profile: Mapping) -> "Setup":
        setup = profile.get("setup", {})
        return cls(paper=bool(setup.get("paper", False)), has=frozenset(setup.get("has", ())))

    def lacks(self, claim: Claim) -> str | None:
        """What of ``claim``'s needs this setup lacks, in words; None when it has everything."""
        return None if claim.needs is None or claim.needs in self.has else NEEDS.get(claim.needs, claim.needs)


@dataclass(frozen=True)
class Estimate:
    """One measured quantity a claim is judged on, oriented so that the paper's side is positive.

    For ``SIGN`` and ``COUNT`` a difference, for ``MAGNITUDE`` a gap (compared with
    ``bound``), for ``SHARE`` a share; all as fractions, with their interval and test texts.
    """

    label: str
    value: float
    low: float
    high: float
    n_test: int
    bound: float | None = None
    share: bool = False  # a share of a gain (printed in %), else a difference or gap (printed in p.p.)

    def describe(self) -> str:
        """E.g. ``bare +19.5 p.p. [+16.5, +22.6], n = 904``; a share in %, a gap with its bound."""
        if self.share:
            figure = f"{100 * self.value:.0f} % [{100 * self.low:.0f}, {100 * self.high:.0f}]"
        else:
            figure = f"{100 * self.value:+.1f} p.p. [{100 * self.low:+.1f}, {100 * self.high:+.1f}]"
        bound = f" (bound {100 * self.bound:.1f})" if self.bound else ""
        return f"{self.label}: {figure}{bound}, n = {self.n_test:,}"


@dataclass(frozen=True)
class Judgement:
    """A claim's verdict, our figures with their intervals, and the one-line reason."""

    status: ClaimVerdict
    ours: str
    reason: str


def _bound(claim: Claim, estimate: Estimate) -> float:
    bound = estimate.bound if estimate.bound is not None else claim.bound
    if bound is None:
        raise ValueError(f"claim {claim.key!r} ({claim.kind.value}) needs a bound for {estimate.label!r}")
    return bound


def _sides(claim: Claim, estimates: Sequence[Estimate]) -> tuple[int, int]:
    """How many estimates support the claim and how many contradict it (the rest are undecided)."""
    if claim.kind in (Kind.SIGN, Kind.COUNT):
        return sum(e.low > 0 for e in estimates), sum(e.high < 0 for e in estimates)
    if claim.kind is Kind.MAGNITUDE:
        return (sum(e.high <= _bound(claim, e) for e in estimates),
                sum(e.low > _bound(claim, e) for e in estimates))
    return sum(e.low > _bound(claim, e) for e in estimates), sum(e.high < _bound(claim, e) for e in estimates)


def _direction(claim: Claim, estimates: Sequence[Estimate]) -> int:
    """+1 supported, −1 contradicted, 0 undecided, by the rule of the claim's kind (module docstring)."""
    support, against = _sides(claim, estimates)
    n = len(estimates)
    if claim.kind is Kind.COUNT:
        share = claim.bound if claim.bound is not None else 1.0
        if support >= share * n:
            return 1
        return -1 if (n - against) < share * n else 0
    if against:
        return -1
    return 1 if support == n else 0


def judge(claim: Claim, setup: Setup, estimates: Sequence[Estimate], *, proxy: str = "",
          missing: str = "no chapter measured it for this profile", untestable: str | None = None) -> Judgement:
    """The verdict on ``claim`` from ``estimates`` on ``setup``, with our figures and a one-line reason.

    ``proxy`` says how the setup differs from the paper's (used in the reason);
    ``untestable`` names why the compared quantity does not exist here (e.g. "no
    gain to match"), which makes the claim not testable whatever the estimates.
    """
    ours = "; ".join(e.describe() for e in estimates) or "–"
    lacking = setup.lacks(claim)
    if lacking is not None:
        return Judgement(ClaimVerdict.NOT_TESTABLE, ours, f"needs {lacking}, which this profile does not have; "
                                                    "our measurement is an observation only")
    if untestable is not None:
        return Judgement(ClaimVerdict.NOT_TESTABLE, ours, untestable)
    if not estimates:
        return Judgement(ClaimVerdict.NOT_MEASURED, ours, missing)
    direction = _direction(claim, estimates)
    support, against = _sides(claim, estimates)
    tally = f"{support} of {len(estimates)} support it, {against} contradict it"
    where = "the paper's setup" if setup.paper else f"a proxy ({proxy})" if proxy else "a proxy"
    if direction == 0:
        return Judgement(ClaimVerdict.WITHIN_NOISE, ours, f"on {where}: {tally}; the intervals cannot tell")
    if direction > 0:
        status = ClaimVerdict.REPRODUCED if setup.paper else ClaimVerdict.CONSISTENT
    else:
        status = ClaimVerdict.NOT_REPRODUCED if setup.paper else ClaimVerdict.CONTRADICTED
    return Judgement(status, ours, f"on {where}: {tally}")
