"""Untrusted model folders (issue 14): pickle weights only through weights_only, custom code never run.

Each test crafts a folder: a tiny model saved normally, then altered — its weights
turned into a pickle, a pickle that runs a command when unpickled, a config or a
tokenizer config that maps classes to a Python file of the folder, a custom
sentence-transformers module. A command or import that ran would create a marker
file; every test checks that it does not exist.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from textembed_utils.cli import main
from textembed_utils.errors import TextembedError
from textembed_utils.evaluation import encode
from textembed_utils.models import load_encoder

TEXTS = ["a cat sat on the mat", "the engine turns the shaft", "owls hunt at night"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A tiny random-init transformer saved as a SentenceTransformer folder (safetensors)."""
    from conftest import TINY_CONFIG

    folder = tmp_path_factory.mktemp("models") / "safe"
    load_encoder(init="random", config_overrides=TINY_CONFIG, max_length=48, seed=0).save(folder)
    return folder


def crafted(saved: Path, tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(saved, folder)
    return folder


class RunsACommand:
    """Unpickling this runs a shell command (the classic pickle attack)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_pickle_weights_load_through_weights_only_to_the_same_model(saved, tmp_path):
    folder = crafted(saved, tmp_path, "pickled")
    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    expected = encode(load_encoder(str(saved)), TEXTS, progress=False)
    np.testing.assert_allclose(encode(load_encoder(str(folder)), TEXTS, progress=False), expected, atol=1e-6)


def test_a_pickle_that_runs_code_is_refused_not_executed(saved, tmp_path):
    folder = crafted(saved, tmp_path, "evil")
    marker = tmp_path / "PWNED"
    (folder / "model.safetensors").unlink()
    with open(folder / "pytorch_model.bin", "wb") as fh:
        pickle.dump({"embeddings.word_embeddings.weight": RunsACommand(marker)}, fh)
    with pytest.raises(TextembedError) as err:
        load_encoder(str(folder))
    assert "pickle weights that hold more than tensors" in err.value.problem and "weights_only" in err.value.problem
    assert "safetensors" in err.value.fix
    assert not marker.exists()


def _code_that_leaves_a_marker(folder: Path, marker: Path) -> None:
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")


@pytest.mark.parametrize("config_file", ["config.json", "tokenizer_config.json"])
def test_auto_map_to_the_folders_own_code_is_refused(saved, tmp_path, config_file):
    folder = crafted(saved, tmp_path, "custom")
    marker = tmp_path / "IMPORTED"
    _code_that_leaves_a_marker(folder, marker)
    config = json.loads((folder / config_file).read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel", "AutoTokenizer": ["modeling_evil.Tok", None]}
    (folder / config_file).write_text(json.dumps(config))
    for load in (lambda: load_encoder(str(folder)), lambda: load_encoder(str(folder), init="random")):
        with pytest.raises(TextembedError) as err:
            load()
        assert f"{config_file} maps AutoModel, AutoTokenizer to code in the folder (auto_map)" in err.value.problem
        assert "never runs code" in err.value.problem
    assert not marker.exists()


def test_a_custom_sentence_transformers_module_is_refused(saved, tmp_path):
    folder = crafted(saved, tmp_path, "module")
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 2, "name": "2", "path": "", "type": "modeling_evil.Hook"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(TextembedError, match="custom module 'modeling_evil.Hook'"):
        load_encoder(str(folder))


def test_folder_without_usable_weights_names_the_folder_not_the_hub(saved, tmp_path):
    folder = crafted(saved, tmp_path, "no-weights")
    (folder / "model.safetensors").unlink()
    (folder / "tf_model.h5").write_bytes(b"not for us")
    with pytest.raises(TextembedError) as err:
        load_encoder(str(folder))
    assert "Could not load the model folder" in err.value.problem and "model.safetensors" in err.value.fix


def test_the_command_line_refuses_an_evil_folder_with_exit_2(saved, tmp_path, capsys):
    folder = crafted(saved, tmp_path, "evil")
    marker = tmp_path / "PWNED"
    (folder / "model.safetensors").unlink()
    with open(folder / "pytorch_model.bin", "wb") as fh:
        pickle.dump(RunsACommand(marker), fh)
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    assert main(["embed", str(folder), str(corpus), "--out", str(tmp_path / "v.npy"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "weights_only" in err and "How to fix:" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "v.npy").exists()
