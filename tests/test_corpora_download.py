"""Verified downloads against a loopback HTTP server, and the ICLR loader on a stand-in."""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading

import pandas as pd
import pytest

from textembed_utils.corpora.download import fetch_verified, git_blob_id
from textembed_utils.corpora.iclr import load_iclr
from textembed_utils.errors import TextembedError


def test_git_blob_id_matches_git():
    assert git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_git_blob_id_matches_git_hash_object(tmp_path):
    data = bytes(range(256)) * 100
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    try:
        expected = subprocess.run(
            ["git", "hash-object", str(path)], capture_output=True, text=True, check=True
        ).stdout.strip()
    except FileNotFoundError:
        pytest.skip("git is not installed")
    assert git_blob_id(data) == expected


@pytest.fixture
def server(tmp_path):
    """Serve ``tmp_path/served`` on 127.0.0.1; yields (base_url, folder, request log)."""
    folder = tmp_path / "served"
    folder.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", folder, requests
    httpd.shutdown()
    httpd.server_close()


def _iclr_standin(path):
    """A parquet with the ICLR schema: 2 labelled papers, 1 unlabeled, 1 without abstract."""
    pd.DataFrame(
        {
            "year": [2017, 2018, 2024, 2024],
            "id": ["a", "b", "c", "d"],
            "title": ["T1", "T2", "T3", "T4"],
            "abstract": ["  We train GANs. ", "Graphs are neat.", "Something else.", None],
            "authors": ["X", "Y", "Z", "W"],
            "decision": ["Accept", "Reject", "Accept", "Reject"],
            "scores": [[6, 7], [3], [8], [5]],
            "keywords": [["gan"], ["graph"], [], []],
            "labels": ["GANs", "graphs", "unlabeled", "GANs"],
        }
    ).to_parquet(path)
    return git_blob_id(path.read_bytes())


def test_iclr_from_loopback_server(server, tmp_path):
    base, folder, requests = server
    blob_id = _iclr_standin(folder / "iclr24v1.parquet.gzip")
    url = f"{base}/iclr24v1.parquet.gzip"

    corpus = load_iclr(url=url, blob_id=blob_id, cache=tmp_path / "cache")
    assert corpus.texts == ["We train GANs.", "Graphs are neat.", "Something else."]
    assert corpus.labels == ["GANs", "graphs", None]
    assert corpus.info["unlabelled"] == 1 and corpus.info["dropped_empty"] == 1
    assert (tmp_path / "cache" / "iclr" / "iclr24v1.parquet.gzip").is_file()

    again = load_iclr(url=url, blob_id=blob_id, cache=tmp_path / "cache")
    assert again.fingerprint() == corpus.fingerprint()
    assert len(requests) == 1  # the second call read the cache, not the server


def test_hash_mismatch_raises_and_leaves_no_file(server, tmp_path):
    base, folder, _ = server
    (folder / "data.bin").write_bytes(b"not the pinned content")
    dest = tmp_path / "cache" / "data.bin"
    wrong = git_blob_id(b"the pinned content")
    with pytest.raises(TextembedError) as err:
        fetch_verified(f"{base}/data.bin", dest, wrong)
    assert wrong in str(err.value) and git_blob_id(b"not the pinned content") in str(err.value)
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir() if not p.name.endswith(".lock")] == []


def test_server_down_raises(tmp_path):
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dest = tmp_path / "data.bin"
    with pytest.raises(TextembedError, match="needs internet") as err:
        fetch_verified(f"http://127.0.0.1:{port}/data.bin", dest, git_blob_id(b"x"), timeout=5)
    assert str(dest) in err.value.fix
    assert not dest.exists()


def test_http_error_status_raises(server, tmp_path):
    base, _, _ = server
    with pytest.raises(TextembedError, match="Could not download"):
        fetch_verified(f"{base}/missing.bin", tmp_path / "m.bin", git_blob_id(b"x"))


def test_corrupted_cache_is_fetched_again(server, tmp_path):
    base, folder, requests = server
    content = b"good content\n" * 1000
    (folder / "data.bin").write_bytes(content)
    dest = tmp_path / "data.bin"
    dest.write_bytes(content[:100])  # a truncated earlier download

    assert fetch_verified(f"{base}/data.bin", dest, git_blob_id(content)) == dest
    assert dest.read_bytes() == content
    assert len(requests) == 1
    fetch_verified(f"{base}/data.bin", dest, git_blob_id(content))
    assert len(requests) == 1
