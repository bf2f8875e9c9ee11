"""Reliability and reproducibility (issue 6): bad input, damaged caches, concurrent builds, determinism, security.

Covered elsewhere, not repeated here: corpus files (empty, not UTF-8, several MB,
missing labels: tests/test_corpora_*.py), the command line's exit codes
(tests/test_cli.py), exact resume after a kill (tests/test_checkpoint_resume.py),
records' contents (tests/test_records.py), parameters (tests/test_params.py) and
kNN edge cases (tests/test_knn.py).
"""

from __future__ import annotations

import ast
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from textembed_utils import experiments
from textembed_utils.experiments import Run
from textembed_utils.paths import cache_dir
from textembed_utils.augment import crop_windows
from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import encode, knn_accuracy
from textembed_utils.profiles import load_profile
from textembed_utils.training import TrainConfig, train
from textembed_utils.training.checkpoint import CHECKPOINT_FILE

PACKAGE = Path(experiments.__file__).parent
TINY = load_profile("tiny")


@pytest.fixture(scope="module")
def tiny_corpus():
    return experiments.profile_corpus(TINY)


def train_bare(corpus, profile=TINY, **overrides):
    return experiments.fit(Run.of("bare", "crops", steps=2, **overrides), profile, corpus)


def stored_summary(result):
    """What ``fit`` wrote beside the cached weights of ``result``."""
    return json.loads((cache_dir() / "models" / "tiny" / result.model_key / "training.json").read_text())


def weights(encoder):
    return {k: v.detach().clone() for k, v in encoder.state_dict().items()}


# --- bad input ----------------------------------------------------------------------------


def test_k_at_least_the_number_of_labelled_texts(tiny_bare, toy_corpus):
    few = experiments.EvalSet(toy_corpus.texts[:8], np.array(toy_corpus.labels[:8]))
    with pytest.raises(TextembedError) as err:
        experiments.knn_metrics(tiny_bare, few, TINY)
    assert "k=10" in err.value.problem and "k ≤" in err.value.fix


def test_single_class(tiny_bare, toy_corpus):
    one_class = experiments.EvalSet(toy_corpus.texts, np.array(["animals"] * len(toy_corpus)))
    with pytest.raises(TextembedError, match="one class"):
        experiments.knn_metrics(tiny_bare, one_class, TINY)


@pytest.mark.parametrize(
    ("setting", "value"), [("lr", -1e-5), ("lr", 0.0), ("temperature", 0.0), ("temperature", -1.0),
                           ("batch_size", 1), ("epochs", 0), ("steps", 0), ("mask_fraction", 1.0),
                           ("augmentation", "rotation"), ("n_sentences", 0), ("device", "tpu")],
)
def test_out_of_range_training_settings_name_the_setting_and_the_fix(setting, value):
    with pytest.raises(TextembedError) as err:
        TrainConfig(**{setting: value})
    assert f"{setting}={value!r}" in err.value.problem and f"set {setting} to" in err.value.fix


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [("steps", 10.0, "int or None"), ("lr", "2e-5", "float"), ("batch_size", True, "int"),
     ("symmetric", 1, "bool"), ("augmentation", None, "str")],
)
def test_wrong_types_of_training_settings_are_named(setting, value, expected):
    with pytest.raises(TextembedError) as err:
        TrainConfig(**{setting: value})
    assert f"{setting}={value!r} has type" in err.value.problem and expected in err.value.fix


def test_numpy_numbers_are_accepted_as_plain_numbers():
    config = TrainConfig(steps=np.int64(3), lr=np.float32(0.5), epochs=2)
    assert (type(config.steps), type(config.lr), config.epochs) == (int, float, 2)
    assert config.fingerprint() == TrainConfig(steps=3, lr=0.5, epochs=2).fingerprint()


def test_diverged_embeddings_are_refused_by_knn(toy_corpus):
    embeddings = np.random.default_rng(0).normal(size=(48, 4))
    embeddings[5, 2] = np.nan
    with pytest.raises(TextembedError, match="NaN") as err:
        knn_accuracy(embeddings, np.array(toy_corpus.labels), k=3)
    assert "lower learning rate" in err.value.fix


def test_unknown_profile_and_start():
    with pytest.raises(TextembedError, match="use one of: embedded, paper, tiny"):
        load_profile("embeded")
    with pytest.raises(TextembedError, match="Unknown start 'huge'"):
        experiments.make_encoder(TINY, "huge")


def test_corpus_where_no_text_can_be_cropped(tiny_bare):
    with pytest.raises(TextembedError) as err:
        train(tiny_bare, ["Too short. To crop."] * 50, TrainConfig(n_sentences=1, batch_size=4), progress=False)
    assert "0 of 50 texts usable" in err.value.problem and "masking" in err.value.fix


def test_text_of_several_megabytes_crops_and_encodes(tiny_bare):
    sentence = "A sentence long enough for the crop rule of the paper, about words and more words and yet more words"
    big = (sentence + ". ") * 30_000  # ≈ 3.2 MB
    assert len(big) > 3_000_000
    began = time.perf_counter()
    assert len(crop_windows(big, 1)) == 30_000
    vector = encode(tiny_bare, [big], progress=False)
    assert vector.shape == (1, 32) and np.isfinite(vector).all()
    assert time.perf_counter() - began < 60


def test_cache_folder_that_cannot_be_created(tmp_path, monkeypatch, tiny_corpus):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("TEXTEMBED_CACHE", str(blocker / "cache"))
    with pytest.raises(TextembedError, match="Cannot write into the folder"):
        train_bare(tiny_corpus)


# --- hidden sizes never mix -----------------------------------------------------------------


def test_another_hidden_size_is_another_cache_entry(fresh_storage, tiny_corpus):
    narrow = load_profile("tiny", {"starts": {"bare": {"config_overrides": {"hidden_size": 16}}}})
    run32 = train_bare(tiny_corpus)
    run16 = train_bare(tiny_corpus, narrow)
    assert (run32.encoder.hidden_size, run16.encoder.hidden_size) == (32, 16)
    assert run32.model_key != run16.model_key and not run16.cached


def test_cached_embeddings_of_another_width_are_recomputed(fresh_storage, tiny_bare, toy_corpus):
    wide = experiments.cached_embeddings(TINY, tiny_bare, toy_corpus.texts, "some-model")
    narrow_model = experiments.load_encoder("bare", config_overrides={"hidden_size": 8}, seed=0)
    with pytest.warns(UserWarning, match=r"has shape \(48, 32\), expected \(48, 8\)"):
        narrow = experiments.cached_embeddings(TINY, narrow_model, toy_corpus.texts, "some-model")
    assert wide.shape == (48, 32) and narrow.shape == (48, 8)
    fresh = encode(narrow_model, toy_corpus.texts, max_length=TINY["eval"]["max_length"], progress=False)
    np.testing.assert_allclose(narrow, fresh, atol=1e-6)


def test_truncated_cached_embeddings_are_recomputed(fresh_storage, tiny_bare, toy_corpus):
    first = experiments.cached_embeddings(TINY, tiny_bare, toy_corpus.texts, "m")
    (stored,) = (fresh_storage / "cache" / "embeddings" / "tiny").glob("m-*.npy")
    stored.write_bytes(stored.read_bytes()[:200])
    with pytest.warns(UserWarning, match="cannot be read"):
        again = experiments.cached_embeddings(TINY, tiny_bare, toy_corpus.texts, "m")
    np.testing.assert_array_equal(again, first)


# --- damaged cache entries, concurrent builds ----------------------------------------------------


def test_truncated_model_in_the_cache_is_detected_and_retrained(fresh_storage, tiny_corpus):
    first = train_bare(tiny_corpus)
    encoder = first.encoder
    folder = fresh_storage / "cache" / "models" / "tiny" / first.model_key
    assert not folder.with_name(folder.name + ".ckpt").exists()  # a finished run keeps no checkpoint
    (weights_file,) = folder.rglob("model.safetensors")
    weights_file.write_bytes(weights_file.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="damaged"):
        retrained = train_bare(tiny_corpus)
    assert not retrained.cached and retrained.losses == first.losses
    reloaded = train_bare(tiny_corpus)
    assert reloaded.cached
    assert all(torch.equal(v, weights(encoder)[k]) for k, v in weights(reloaded.encoder).items())


def test_unreadable_checkpoint_starts_over_with_a_warning(tmp_path, tiny_bare, toy_corpus):
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"PK\x03\x04 not really a checkpoint")
    config = TrainConfig(n_sentences=1, batch_size=8, steps=2, lr=0.1, max_length=48, checkpoint_every=1)
    with pytest.warns(UserWarning, match="unreadable checkpoint"):
        result = train(tiny_bare, toy_corpus.texts, config, checkpoint_dir=tmp_path, progress=False)
    assert result.resumed_from == 0 and len(result.losses) == 2


def test_interrupted_notebook_training_resumes_from_its_checkpoint(fresh_storage, tiny_corpus, monkeypatch):
    """A notebook's run stopped by Ctrl-C continues from its last checkpoint, exactly, when run again."""
    data = experiments.eval_set(TINY, tiny_corpus, size=60)
    monkeypatch.setattr(experiments, "DEFAULT_CHECKPOINT_EVERY", 1)

    def run(cache):
        monkeypatch.setenv("TEXTEMBED_CACHE", str(fresh_storage / cache))
        result = experiments.fit(Run.of("bare", "crops", steps=4, eval_every=1), TINY, tiny_corpus, curve_data=data)
        return stored_summary(result)

    uninterrupted = run("uninterrupted")
    real_metrics, evaluations = experiments.knn_metrics, []

    def interrupt_third_evaluation(*args, **kwargs):
        evaluations.append(1)
        if len(evaluations) == 3:  # after step 2, before its checkpoint: step 1's is the last
            raise KeyboardInterrupt
        return real_metrics(*args, **kwargs)

    monkeypatch.setattr(experiments, "knn_metrics", interrupt_third_evaluation)
    with pytest.raises(KeyboardInterrupt, match=r"checkpoint \(step 1\).*run the same command again"):
        run("interrupted")
    checkpoints = list((fresh_storage / "interrupted" / "models" / "tiny").glob("*.ckpt"))
    assert len(checkpoints) == 1 and (checkpoints[0] / CHECKPOINT_FILE).exists()
    monkeypatch.setattr(experiments, "knn_metrics", real_metrics)
    resumed = run("interrupted")
    assert not checkpoints[0].exists()  # removed once the model is stored
    assert resumed["losses"] == uninterrupted["losses"]
    assert resumed["weights_sha256"] == uninterrupted["weights_sha256"]


def test_two_builds_at_once_on_the_same_cache_train_once(fresh_storage, tiny_corpus, monkeypatch):
    trainings, outcomes = [], []
    real_train = experiments.train

    def slow_train(*args, **kwargs):
        trainings.append(threading.current_thread().name)
        time.sleep(0.5)  # long enough for the other build to arrive while this one trains
        return real_train(*args, **kwargs)

    monkeypatch.setattr(experiments, "train", slow_train)

    def build():
        result = train_bare(tiny_corpus)
        outcomes.append((result.cached, weights(result.encoder)))

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(trainings) == 1  # the second build waited on the lock, then loaded the first one's model
    assert sorted(cached for cached, _ in outcomes) == [False, True]
    (_, first), (_, second) = outcomes
    assert all(torch.equal(first[k], second[k]) for k in first)


# --- determinism ---------------------------------------------------------------------------------


def test_same_profile_parameters_and_seed_give_identical_metrics(tmp_path, monkeypatch, tiny_corpus):
    data = experiments.eval_set(TINY, tiny_corpus, size=120)

    def run(cache):
        monkeypatch.setenv("TEXTEMBED_CACHE", str(tmp_path / cache))
        result = experiments.fit(Run.of("scratch", "crops", steps=3, eval_every=3), TINY, tiny_corpus, curve_data=data)
        summary = {**stored_summary(result), "cached": result.cached}
        return summary, experiments.knn_metrics(result.encoder, data, TINY)

    (summary_a, metrics_a), (summary_b, metrics_b) = run("a"), run("b")
    assert not summary_a["cached"] and not summary_b["cached"]
    assert metrics_a == metrics_b
    assert summary_a["losses"] == summary_b["losses"] and summary_a["curve"] == summary_b["curve"]
    assert summary_a["weights_sha256"] == summary_b["weights_sha256"]


# --- security ----------------------------------------------------------------------------------


def package_calls():
    """Every call in the package's source: (file, line, dotted callee name, keywords)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call):
                yield path.name, node.lineno, ast.unparse(node.func), {
                    kw.arg: kw.value for kw in node.keywords if kw.arg}


def is_true(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def test_never_trust_remote_code():
    offenders = [(f, line) for f, line, _, kw in package_calls() if "trust_remote_code" in kw
                 and not (isinstance(kw["trust_remote_code"], ast.Constant) and kw["trust_remote_code"].value is False)]
    assert offenders == []
    assert not any("trust_remote_code=True" in p.read_text() for p in PACKAGE.rglob("*.py"))


def test_no_unpickling_of_files():
    offenders = []
    for f, line, name, kw in package_calls():
        if name in ("pickle.load", "pickle.loads", "joblib.load", "dill.load", "pd.read_pickle"):
            offenders.append((f, line, name))
        if name == "torch.load" and not is_true(kw.get("weights_only")):
            offenders.append((f, line, name))
        if name in ("np.load", "numpy.load") and is_true(kw.get("allow_pickle")):
            offenders.append((f, line, name))
    assert offenders == []


def test_no_shell_commands():
    offenders = [(f, line, name) for f, line, name, kw in package_calls()
                 if name in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput")
                 or is_true(kw.get("shell"))]
    assert offenders == []


# --- a full disk while writing a cache entry or a results record (issue 14) -----------------------


def test_disk_full_while_storing_a_trained_model_leaves_no_entry_and_says_which(fresh_storage, tiny_corpus,
                                                                                 monkeypatch):
    import errno
    import os

    run = experiments.Run.of("bare", "crops", steps=2)
    real_replace = os.replace

    def full_disk_for_models(src, dst):
        if "models" in Path(dst).parts:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full_disk_for_models)
    with pytest.raises(TextembedError) as err:
        experiments.fit(run, TINY, tiny_corpus)
    assert "Could not write" in err.value.problem and "models" in err.value.problem
    assert "(No space left on device); nothing was written" in err.value.problem
    models = fresh_storage / "cache" / "models" / "tiny"
    assert not [p for p in models.iterdir() if p.is_dir() and not p.name.endswith(".ckpt")]
    monkeypatch.setattr(os, "replace", real_replace)
    assert not experiments.fit(run, TINY, tiny_corpus).cached  # trained again, then stored
    assert experiments.fit(run, TINY, tiny_corpus).cached


def test_disk_full_while_writing_a_record_keeps_the_previous_record(fresh_storage, monkeypatch):
    import errno
    import os

    from textembed_utils.results.records import read_record, write_record

    write_record("tiny", "99_fault", config={"seed": 1}, metrics={"accuracy": 0.5})

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(TextembedError, match=r"99_fault\.json \(No space left on device\); the previous version"):
        write_record("tiny", "99_fault", config={"seed": 1}, metrics={"accuracy": 0.9})
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert read_record("tiny", "99_fault")["metrics"] == {"accuracy": 0.5}
