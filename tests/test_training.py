"""The training loop: learning, the paper's schedule, step/epoch counting, callbacks, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import make_toy_corpus
from textembed_utils import experiments
from textembed_utils.errors import TextembedError
from textembed_utils.profiles import load_profile
from textembed_utils.training import TrainConfig, resolve_device, train


def config(**changes) -> TrainConfig:
    settings = dict(n_sentences=1, batch_size=8, steps=4, lr=1e-3, max_length=48, device="cpu")
    return TrainConfig(**{**settings, **changes})


def weights(encoder) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in encoder.state_dict().items()}


def test_paper_defaults():
    cfg = TrainConfig()
    assert (cfg.lr, cfg.temperature, cfg.batch_size, cfg.n_sentences, cfg.warmup_fraction) == (2e-5, 0.05, 64, 2, 0.1)
    assert (cfg.augmentation, cfg.symmetric, cfg.seed, cfg.epochs, cfg.steps) == ("crops", False, 42, 1.0, None)


def test_loss_decreases_on_the_tiny_profile():
    profile = load_profile("tiny")
    corpus = experiments.profile_corpus(profile)
    encoder = experiments.make_encoder(profile, "bare")
    result = train(encoder, corpus.texts, experiments.train_config(profile, "bare", "crops", steps=24),
                   progress=False)
    assert len(result.losses) == 24 and all(math.isfinite(x) for x in result.losses)
    first, last = sum(result.losses[:4]) / 4, sum(result.losses[-4:]) / 4
    assert last < 0.7 * first, (first, last)


def test_warmup_over_ten_percent_of_one_epoch_then_linear_decay_to_zero(tiny_bare, monkeypatch):
    used: list[float] = []

    class RecordingAdam(torch.optim.Adam):
        def step(self, *args, **kwargs):
            used.append(self.param_groups[0]["lr"])
            return super().step(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    corpus = make_toy_corpus(120)
    # 120 texts / batch 4 = 30 batches per epoch → 3 warm-up steps; 1.5 epochs = 45 steps.
    result = train(tiny_bare, corpus.texts, config(batch_size=4, steps=None, epochs=1.5, lr=0.1), progress=False)
    assert (result.batches_per_epoch, result.total_steps, len(used)) == (30, 45, 45)
    expected = [0.1 * s / 3 if s < 3 else 0.1 * (45 - s) / 42 for s in range(45)]
    assert used == pytest.approx(expected, abs=1e-12)
    assert used[0] == 0.0 and max(used) == used[3] == pytest.approx(0.1)


def test_steps_override_epochs_and_partial_epochs_round_up(tiny_bare, toy_corpus):
    # 48 texts / batch 8 = 6 batches per epoch.
    assert train(tiny_bare, toy_corpus.texts, config(steps=3, epochs=5), progress=False).total_steps == 3
    assert train(tiny_bare, toy_corpus.texts, config(steps=None, epochs=0.5), progress=False).total_steps == 3
    result = train(tiny_bare, toy_corpus.texts, config(steps=None, epochs=1.4), progress=False)
    assert (result.total_steps, result.batches_per_epoch, len(result.losses)) == (9, 6, 9)


def test_an_epoch_trains_its_last_partial_batch(tiny_bare, toy_corpus):
    # 48 texts in batches of 10: 4 full batches and a last one of 8, as the authors' DataLoader.
    result = train(tiny_bare, toy_corpus.texts, config(batch_size=10, steps=None, epochs=1), progress=False)
    assert (result.batches_per_epoch, result.total_steps, len(result.losses)) == (5, 5, 5)
    assert all(math.isfinite(loss) for loss in result.losses)


def test_eval_callback_gives_a_learning_curve_in_eval_mode(tiny_encoder, toy_corpus):
    seen = []

    def eval_fn(encoder, step):
        seen.append((step, encoder.training))
        return {"norm": float(encoder.backbone.embeddings.word_embeddings.weight.detach().norm())}

    result = train(tiny_encoder, toy_corpus.texts, config(steps=5, eval_every=2), eval_fn=eval_fn, progress=False)
    assert [p["step"] for p in result.curve] == [0, 2, 4, 5]
    assert seen == [(0, False), (2, False), (4, False), (5, False)]
    assert len({p["norm"] for p in result.curve}) == 4  # the weights moved between evaluations
    assert not tiny_encoder.training
    assert result.train_seconds > 0 and result.seconds_per_step > 0
    assert result.config["eval_every"] == 2 and result.crop_stats.croppable == 48


# Dropout exercises the model's RNG; crops+masking the pair sampler and the mask draws;
# batches of 32 pairs (64 texts) are forwarded in several length groups.
@pytest.mark.parametrize(("augmentation", "batch_size"), [("dropout", 8), ("crops+masking", 8), ("dropout", 32)])
def test_same_seed_gives_identical_losses_and_weights(augmentation, batch_size):
    from conftest import TINY_CONFIG
    from textembed_utils.models import load_encoder

    corpus = make_toy_corpus(64)

    def run():
        encoder = load_encoder(init="random", config_overrides=TINY_CONFIG, max_length=48, seed=3)
        result = train(encoder, corpus.texts, config(augmentation=augmentation, batch_size=batch_size, steps=2,
                                                     seed=5), progress=False)
        return result.losses, weights(encoder)

    (losses_a, weights_a), (losses_b, weights_b) = run(), run()
    assert losses_a == losses_b
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_a_different_seed_gives_different_losses(tiny_bare, toy_corpus):
    from textembed_utils.models import load_encoder

    other = load_encoder("bare", config_overrides={"hidden_size": 32}, max_length=48, seed=0)
    one = train(tiny_bare, toy_corpus.texts, config(seed=1), progress=False).losses
    two = train(other, toy_corpus.texts, config(seed=2), progress=False).losses
    assert one != two


def test_fewer_pairs_than_one_batch_names_the_fix(tiny_bare, toy_corpus):
    with pytest.raises(TextembedError) as err:
        train(tiny_bare, toy_corpus.texts[:5], config(batch_size=8), progress=False)
    assert "Only 5 texts" in err.value.problem and "batch_size to at most 5" in err.value.fix


def test_fingerprint_ignores_cadence_and_device_but_not_hyperparameters():
    base = config()
    assert base.fingerprint() == config(log_every=1, checkpoint_every=3, device="auto").fingerprint()
    for change in ({"lr": 2e-3}, {"seed": 1}, {"augmentation": "dropout"}, {"steps": 5}, {"temperature": 0.1}):
        assert config(**change).fingerprint() != base.fingerprint(), change


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(TextembedError, match="device='cpu'"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")


def test_a_diverged_loss_stops_the_run_before_it_is_checkpointed(tiny_bare, toy_corpus, tmp_path, monkeypatch):
    from textembed_utils.training import trainer as trainer_module
    from textembed_utils.training.checkpoint import CHECKPOINT_FILE

    real_loss, calls = trainer_module.info_nce, []

    def nan_from_the_third_batch(*args, **kwargs):
        calls.append(1)
        loss = real_loss(*args, **kwargs)
        return loss * float("nan") if len(calls) >= 3 else loss

    monkeypatch.setattr(trainer_module, "info_nce", nan_from_the_third_batch)
    with pytest.raises(TextembedError) as err:
        train(tiny_bare, toy_corpus.texts, config(steps=5, log_every=1, checkpoint_every=1), checkpoint_dir=tmp_path,
              progress=False)
    assert "became nan at step 3" in err.value.problem and "lower the learning rate (lr=0.001)" in err.value.fix
    assert torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)["step"] == 2


# --- precision -----------------------------------------------------------------------------------


def test_auto_precision_is_bf16_only_where_the_hardware_multiplies_bf16(monkeypatch):
    from textembed_utils.training import precision

    assert precision.resolve_precision("auto", torch.device("cuda")) == "bf16"
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda native=native: native)
        assert precision.resolve_precision("auto", torch.device("cpu")) == expected
    assert precision.resolve_precision("fp32", torch.device("cuda")) == "fp32"
    assert precision.resolve_precision("bf16", torch.device("cpu")) == "bf16"


def test_bf16_training_matches_fp32_to_bf16_accuracy_and_is_recorded(tiny_encoder, toy_corpus):
    import copy

    other = copy.deepcopy(tiny_encoder)
    fp32 = train(tiny_encoder, toy_corpus.texts, config(steps=2, log_every=1, precision="fp32"), progress=False)
    bf16 = train(other, toy_corpus.texts, config(steps=2, log_every=1, precision="bf16"), progress=False)
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    assert all(math.isfinite(loss) for loss in bf16.losses)
    # Same weights and pairs at step 1: the losses differ only by bf16 rounding (~3 significant digits).
    assert bf16.losses[0] == pytest.approx(fp32.losses[0], rel=0.02)


def test_an_unknown_precision_names_the_choices():
    with pytest.raises(TextembedError, match="precision"):
        config(precision="fp16")


def test_a_masking_batch_masks_tokens_but_never_the_special_or_padding_ones(tiny_encoder, toy_corpus):
    from textembed_utils.training.trainer import _Run

    config = TrainConfig(augmentation="masking", batch_size=8, steps=1, mask_fraction=0.5, max_length=48,
                         device="cpu", precision="fp32")
    run = _Run(tiny_encoder, toy_corpus.texts, config)
    ids, mask = run.tokens(0)
    texts = [a for a, _ in run.batch(0)] + [p for _, p in run.batch(0)]
    plain = tiny_encoder.tokenize(texts, max_length=48)
    assert torch.equal(mask, plain["attention_mask"])
    protected = plain["special_tokens_mask"].bool() | ~mask.bool()
    assert torch.equal(ids[protected], plain["input_ids"][protected])  # [CLS], [SEP] and padding untouched
    masked = ids == tiny_encoder.mask_token_id
    assert masked.any() and not masked[protected].any()
    assert torch.equal(ids[~masked], plain["input_ids"][~masked])
