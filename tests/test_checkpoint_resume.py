"""Checkpoints every N steps and exact resume after a simulated kill (issue 6)."""

from __future__ import annotations

import pytest
import torch

from conftest import TINY_CONFIG
from textembed_utils.models import load_encoder
from textembed_utils.training import TrainConfig, train
from textembed_utils.training import loss as loss_module
from textembed_utils.training import trainer as trainer_module
from textembed_utils.training.checkpoint import CHECKPOINT_FILE, load_checkpoint

# Dropout is active (transformer in train mode) and tokens are masked, so an exact
# resume needs the model, optimizer, schedule, RNG and pair order all restored.
CONFIG = TrainConfig(augmentation="crops+masking", n_sentences=1, batch_size=8, steps=6, lr=1e-3,
                     max_length=48, device="cpu", eval_every=2, checkpoint_every=2, log_every=3)


def fresh_encoder():
    return load_encoder(init="random", config_overrides=TINY_CONFIG, max_length=48, seed=0)


def probe(encoder, step: int) -> dict:
    """A cheap deterministic metric of the current weights."""
    return {"norm": float(sum(p.detach().double().norm() for p in encoder.parameters()))}


def interrupt_at(kill_step: int):
    def eval_fn(encoder, step):
        if step == kill_step:
            raise KeyboardInterrupt
        return probe(encoder, step)
    return eval_fn


@pytest.fixture(scope="module")
def uninterrupted(toy_corpus, tmp_path_factory):
    encoder = fresh_encoder()
    result = train(encoder, toy_corpus.texts, CONFIG, eval_fn=probe,
                   checkpoint_dir=tmp_path_factory.mktemp("full"), progress=False)
    return result, encoder.state_dict()


def assert_same_run(result, encoder, reference):
    ref_result, ref_weights = reference
    assert result.losses == ref_result.losses
    assert result.curve == ref_result.curve
    weights = encoder.state_dict()
    assert all(torch.equal(weights[k], ref_weights[k]) for k in ref_weights)


def test_killed_then_resumed_run_equals_the_uninterrupted_run(toy_corpus, tmp_path, uninterrupted):
    with pytest.raises(KeyboardInterrupt, match="last checkpoint \\(step 2\\)"):
        train(fresh_encoder(), toy_corpus.texts, CONFIG, eval_fn=interrupt_at(4), checkpoint_dir=tmp_path,
              progress=False)
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_FILE]  # atomic: no staging leftovers
    encoder = fresh_encoder()
    result = train(encoder, toy_corpus.texts, CONFIG, eval_fn=probe, checkpoint_dir=tmp_path, progress=False)
    assert result.resumed_from == 2
    assert_same_run(result, encoder, uninterrupted)


def test_kill_in_the_middle_of_a_step_resumes_from_the_last_whole_checkpoint(toy_corpus, tmp_path,
                                                                            uninterrupted, monkeypatch):
    calls = {"n": 0}

    def dying_info_nce(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # during step index 3, after the checkpoint of step 2
            raise KeyboardInterrupt
        return loss_module.info_nce(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "info_nce", dying_info_nce)
    with pytest.raises(KeyboardInterrupt):
        train(fresh_encoder(), toy_corpus.texts, CONFIG, eval_fn=probe, checkpoint_dir=tmp_path, progress=False)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path, CONFIG.fingerprint())["step"] == 2
    encoder = fresh_encoder()
    result = train(encoder, toy_corpus.texts, CONFIG, eval_fn=probe, checkpoint_dir=tmp_path, progress=False)
    assert result.resumed_from == 2
    assert_same_run(result, encoder, uninterrupted)


def test_checkpoint_of_another_config_is_ignored(toy_corpus, tmp_path):
    other = TrainConfig(**{**CONFIG.to_dict(), "lr": 5e-4, "steps": 2})
    train(fresh_encoder(), toy_corpus.texts, other, checkpoint_dir=tmp_path, progress=False)
    assert load_checkpoint(tmp_path, other.fingerprint())["step"] == 2
    assert load_checkpoint(tmp_path, CONFIG.fingerprint()) is None
    result = train(fresh_encoder(), toy_corpus.texts, CONFIG, checkpoint_dir=tmp_path, progress=False)
    assert result.resumed_from == 0 and len(result.losses) == 6


def test_checkpoints_are_written_every_n_steps(toy_corpus, tmp_path, monkeypatch):
    saved_steps = []
    real_save = trainer_module.save_checkpoint

    def recording_save(folder, state):
        saved_steps.append(state["step"])
        return real_save(folder, state)

    monkeypatch.setattr(trainer_module, "save_checkpoint", recording_save)
    config = TrainConfig(**{**CONFIG.to_dict(), "checkpoint_every": 3, "eval_every": None})
    train(fresh_encoder(), toy_corpus.texts, config, checkpoint_dir=tmp_path, progress=False)
    assert saved_steps == [3, 6]
    state = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    assert set(state) >= {"model", "optimizer", "scheduler", "rng", "losses", "step", "fingerprint"}
    assert len(state["losses"]) == 6


def test_no_checkpoint_folder_means_no_resume_hint(toy_corpus):
    with pytest.raises(KeyboardInterrupt, match="pass a checkpoint folder"):
        train(fresh_encoder(), toy_corpus.texts, CONFIG, eval_fn=interrupt_at(2), progress=False)
