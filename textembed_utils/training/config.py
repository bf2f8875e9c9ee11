"""``TrainConfig``: every knob of one contrastive training run, with its paper default."""

from __future__ import annotations

import hashlib
import json
import numbers
import typing
from dataclasses import asdict, dataclass, fields

from ..augment import AUGMENTATIONS
from ..errors import TextembedError
from .precision import PRECISIONS

# Steps between checkpoints of the runs the notebooks and the CLI start: often enough that an
# interrupted run loses little, rarely enough that saving (model + Adam state) costs little.
DEFAULT_CHECKPOINT_EVERY = 100


@dataclass
class TrainConfig:
    """Settings of one run. Defaults are the paper's (method-spec.md)."""

    augmentation: str = "crops"
    n_sentences: int = 2
    splitter: str = "naive"
    mask_fraction: float = 0.15
    batch_size: int = 64
    lr: float = 2e-5
    temperature: float = 0.05
    symmetric: bool = False
    epochs: float = 1.0
    steps: int | None = None  # overrides epochs when given
    warmup_fraction: float = 0.1  # of ONE epoch's batches, as the authors' code
    max_length: int = 128
    freeze_layers: int | None = None
    seed: int = 42
    device: str = "auto"
    precision: str = "auto"  # bf16 autocast where the hardware has it, else fp32 (precision.py)
    eval_every: int | None = None
    checkpoint_every: int | None = None
    log_every: int = 10

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise a clear error for any value of the wrong type or out of range."""
        self._check_types()
        checks = [
            (self.augmentation in AUGMENTATIONS, "augmentation", f"one of {', '.join(AUGMENTATIONS)}"),
            (self.n_sentences >= 1, "n_sentences", "an integer ≥ 1"),
            (0.0 <= self.mask_fraction < 1.0, "mask_fraction", "in [0, 1)"),
            (self.batch_size >= 2, "batch_size", "≥ 2 (InfoNCE needs in-batch negatives)"),
            (self.lr > 0, "lr", "a positive number (e.g. 2e-5)"),
            (self.temperature > 0, "temperature", "a positive number (e.g. 0.05)"),
            (self.epochs > 0, "epochs", "positive"),
            (self.steps is None or self.steps >= 1, "steps", "≥ 1 or None"),
            (0.0 <= self.warmup_fraction <= 1.0, "warmup_fraction", "in [0, 1]"),
            (self.max_length >= 8, "max_length", "≥ 8 tokens"),
            (self.freeze_layers is None or self.freeze_layers >= 0, "freeze_layers", "≥ 0 or None"),
            (self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:"),
             "device", "auto, cpu or cuda"),
            (self.precision in PRECISIONS, "precision", f"one of {', '.join(PRECISIONS)}"),
            (self.eval_every is None or self.eval_every >= 1, "eval_every", "≥ 1 or None"),
            (self.checkpoint_every is None or self.checkpoint_every >= 1, "checkpoint_every", "≥ 1 or None"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise TextembedError(
                    f"Training parameter {name}={getattr(self, name)!r} is out of range.",
                    f"set {name} to {expected}.",
                )

    def _check_types(self) -> None:
        """A wrong type (``steps=10.0``, ``lr="2e-5"``, ``batch_size=True``) is named here, not deep in torch."""
        hints = typing.get_type_hints(type(self))
        for field in fields(self):
            value = getattr(self, field.name)
            allowed = typing.get_args(hints[field.name]) or (hints[field.name],)
            if not any(_has_type(value, kind) for kind in allowed):
                names = " or ".join("None" if kind is type(None) else kind.__name__ for kind in allowed)
                raise TextembedError(
                    f"Training parameter {field.name}={value!r} has type {type(value).__name__}.",
                    f"set {field.name} to a value of type {names}.",
                )
            setattr(self, field.name, _plain_number(value))

    def to_dict(self) -> dict:
        return asdict(self)

    def warmup_steps(self, batches_per_epoch: int, total_steps: int) -> int:
        """Batches of linear warm-up: ``warmup_fraction`` of one epoch, at most the whole run."""
        return min(int(round(self.warmup_fraction * batches_per_epoch)), total_steps)

    def fingerprint(self) -> str:
        """Hash of the settings that change the result (not logging or checkpoint cadence)."""
        relevant = {k: v for k, v in self.to_dict().items() if k not in ("log_every", "checkpoint_every", "device")}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


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
