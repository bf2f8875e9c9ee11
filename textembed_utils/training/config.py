"""``TrainConfig``: every knob of one contrastive training run, with its paper default."""

from __future__ import annotations

import hashlib
import json
import numbers
import typing
from dataclasses import asdict, dataclass, field, fields

from ..augment import AUGMENTATIONS
from ..errors import TextembedError
from ..ranges import DEVICES, Range, is_device, out_of_range
from .precision import PRECISIONS

# Steps between checkpoints of the runs the notebooks and the CLI start: often enough that an
# interrupted run loses little, rarely enough that saving (model + Adam state) costs little.
DEFAULT_CHECKPOINT_EVERY = 100


@dataclass
class TrainConfig:
    """Settings of one run. Defaults are the paper's (method-spec.md).

    Every numeric field states its allowed range once, in its metadata
    (``metadata={"range": Range(...)}``); ``validate`` checks it, and the command
    line and the notebooks' parameters take their checks from the same place
    (``textembed_utils.ranges.range_for``). A new numeric field needs a range.
    """

    augmentation: str = "crops"
    n_sentences: int = field(default=2, metadata={"range": Range(1)})
    splitter: str = "naive"
    mask_fraction: float = field(default=0.15, metadata={"range": Range(0, 1, low_open=True, high_open=True)})
    batch_size: int = field(default=64, metadata={"range": Range(2, why="InfoNCE needs in-batch negatives")})
    # pairs per cached forward pass on one device (GradCache, cached_loss.py); None: the batch in one pass
    mini_batch_size: int | None = field(default=None, metadata={"range": Range(1)})
    lr: float = field(default=2e-5, metadata={"range": Range(0, low_open=True)})
    temperature: float = field(default=0.05, metadata={"range": Range(0, low_open=True)})
    symmetric: bool = False
    epochs: float = field(default=1.0, metadata={"range": Range(0, low_open=True)})
    steps: int | None = field(default=None, metadata={"range": Range(1)})  # overrides epochs when given
    # of ONE epoch's batches, as the authors' code
    warmup_fraction: float = field(default=0.1, metadata={"range": Range(0, 1)})
    max_length: int = field(default=128, metadata={"range": Range(8, why="tokens")})
    freeze_layers: int | None = field(default=None, metadata={"range": Range(0)})  # 0: the embeddings only
    seed: int = field(default=42, metadata={"range": Range(0, 2**32 - 1, why="NumPy's seeds")})
    device: str = "auto"
    precision: str = "auto"  # bf16 autocast where the hardware has it, else fp32 (precision.py)
    eval_every: int | None = field(default=None, metadata={"range": Range(1)})
    checkpoint_every: int | None = field(default=None, metadata={"range": Range(1)})
    log_every: int = field(default=10, metadata={"range": Range(1)})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise a clear error for any value of the wrong type, out of its range, or not one of the choices."""
        self._check_types()
        for item in fields(self):
            allowed, value = item.metadata.get("range"), getattr(self, item.name)
            if allowed is not None and value is not None and value not in allowed:
                raise TextembedError(
                    f"Training parameter {out_of_range(item.name, value, allowed)}.",
                    f"set {item.name} to a value {allowed.describe()}.",
                )
        choices = [
            (self.augmentation in AUGMENTATIONS, "augmentation", f"one of {', '.join(AUGMENTATIONS)}"),
            (is_device(self.device), "device", DEVICES),
            (self.precision in PRECISIONS, "precision", f"one of {', '.join(PRECISIONS)}"),
        ]
        for ok, name, expected in choices:
            if not ok:
                raise TextembedError(
                    f"Training parameter {name}={getattr(self, name)!r} is not a known choice.",
                    f"set {name} to {expected}.",
                )

    def _check_types(self) -> None:
        """A wrong type (``steps=10.0``, ``lr="2e-5"``, ``batch_size=True``) is named here, not deep in torch."""
        hints = typing.get_type_hints(type(self))
        for item in fields(self):
            value = getattr(self, item.name)
            allowed = typing.get_args(hints[item.name]) or (hints[item.name],)
            if not any(_has_type(value, kind) for kind in allowed):
                names = " or ".join("None" if kind is type(None) else kind.__name__ for kind in allowed)
                raise TextembedError(
                    f"Training parameter {item.name}={value!r} has type {type(value).__name__}.",
                    f"set {item.name} to a value of type {names}.",
                )
            setattr(self, item.name, _plain_number(value))

    def to_dict(self) -> dict:
        return asdict(self)

    def warmup_steps(self, batches_per_epoch: int, total_steps: int) -> int:
        """Batches of linear warm-up: ``warmup_fraction`` of one epoch, at most the whole run."""
        return min(int(round(self.warmup_fraction * batches_per_epoch)), total_steps)

    def fingerprint(self) -> str:
        """Hash of the settings that change the result (not logging or checkpoint cadence)."""
        relevant = {k: v for k, v in self.to_dict().items() if k not in ("log_every", "checkpoint_every", "device")}
        if self.mini_batch_size is None:  # runs without caching keep the fingerprints (and caches) they had
            del relevant["mini_batch_size"]
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def config_ranges() -> dict[str, tuple[type, Range]]:
    """Kind (int or float) and range of every numeric ``TrainConfig`` field, from the fields' metadata."""
    hints = typing.get_type_hints(TrainConfig)
    return {
        item.name: (next(k for k in typing.get_args(hints[item.name]) or (hints[item.name],) if k is not type(None)),
                    item.metadata["range"])
        for item in fields(TrainConfig) if "range" in item.metadata
    }


def _has_type(value: object, kind: type) -> bool:
    """isinstance, with integers accepted as floats and booleans only as booleans."""
    if kind in (bool, str, type(None)):
        return isinstance(value, kind)
    if isinstance(value, bool):
        return False
    return isinstance(value, numbers.Integral if kind is int else numbers.Real if kind is float else kind)


def _plain_number(value: object) -> object:
    """NumPy scalars as Python numbers, so that the config serialises to JSON (the fingerprint)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, int):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, (int, float)):
        return float(value)
    return value
