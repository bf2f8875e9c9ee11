"""Atomic writes, writable-folder checks, the inter-process lock and content digests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from textembed_utils.atomic import (
    atomic_path,
    ensure_writable_dir,
    file_lock,
    tree_digest,
    write_bytes,
    write_json,
    write_text,
)
from textembed_utils.errors import TextembedError


def test_writes_land_whole(tmp_path):
    write_bytes(tmp_path / "a.bin", b"\x00\x01")
    write_text(tmp_path / "sub" / "b.txt", "héllo")
    write_json(tmp_path / "c.json", {"x": [1, 2], "path": tmp_path})
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "sub" / "b.txt").read_text(encoding="utf-8") == "héllo"
    assert json.loads((tmp_path / "c.json").read_text()) == {"x": [1, 2], "path": str(tmp_path)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "c.json", "sub"]


def test_an_exception_leaves_no_partial_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "result.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as staged:
            staged.write_text('{"half": ')
            raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as staged:
            staged.write_text("new but incomplete")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_a_folder_is_replaced_in_one_piece(tmp_path):
    target = tmp_path / "model"
    for version in ("v1", "v2"):
        with atomic_path(target) as staged:
            staged.mkdir()
            (staged / "weights").write_text(version)
    assert (target / "weights").read_text() == "v2" and list(tmp_path.iterdir()) == [target]


def test_unwritable_folder_under_a_regular_file(tmp_path):
    # A path below a regular file can never be created, even by root (chmod would not stop root).
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TextembedError) as err:
        ensure_writable_dir(blocker / "out")
    assert str(blocker / "out") in err.value.problem and "output folder you can write to" in err.value.fix
    with pytest.raises(TextembedError):
        write_text(blocker / "out" / "x.txt", "x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders anyway")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(TextembedError, match="Cannot write into the folder"):
            ensure_writable_dir(folder)
    finally:
        folder.chmod(0o700)


HOLD_LOCK = """
import sys, time
from textembed_utils.atomic import file_lock
with file_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_lock_held_by_another_process_is_a_clear_error_without_waiting(tmp_path):
    lock = tmp_path / "cache.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        began = time.perf_counter()
        with pytest.raises(TextembedError) as err:
            with file_lock(lock, wait=False):
                pass
        assert time.perf_counter() - began < 1.0
        assert "Another process holds the lock" in err.value.problem and "TEXTEMBED_CACHE" in err.value.fix
    finally:
        holder.kill()
        holder.wait()
    with file_lock(lock, wait=False):  # free again once the holder is gone
        pass


def test_waiting_lock_serialises_two_holders(tmp_path):
    lock = tmp_path / "cache.lock"
    events = []

    def worker(name):
        with file_lock(lock):
            events.append(f"{name} in")
            time.sleep(0.2)
            events.append(f"{name} out")

    threads = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Never interleaved: each holder leaves before the next enters.
    assert events in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


def test_tree_digest_sees_truncation_renames_and_ignores_excluded_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "w.bin").write_bytes(b"abcdef")
    (tmp_path / "summary.json").write_text("{}")
    digest = tree_digest(tmp_path, exclude=("summary.json",))
    (tmp_path / "summary.json").write_text('{"changed": true}')
    assert tree_digest(tmp_path, exclude=("summary.json",)) == digest
    assert tree_digest(tmp_path) != digest
    (tmp_path / "sub" / "w.bin").write_bytes(b"abc")
    assert tree_digest(tmp_path, exclude=("summary.json",)) != digest
    (tmp_path / "sub" / "w.bin").write_bytes(b"abcdef")
    assert tree_digest(tmp_path, exclude=("summary.json",)) == digest
    (tmp_path / "sub" / "w.bin").rename(tmp_path / "sub" / "v.bin")
    assert tree_digest(tmp_path, exclude=("summary.json",)) != digest


# --- disk full and permission errors while writing (issue 14) -------------------------------------

import errno  # noqa: E402
from pathlib import Path  # noqa: E402


def test_disk_full_mid_write_keeps_the_previous_file_and_names_the_target(tmp_path, monkeypatch):
    target = tmp_path / "record.json"
    write_json(target, {"good": 1})

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(TextembedError) as err:
        write_json(target, {"good": 2})
    assert f"Could not write {target} (No space left on device); the previous version is unchanged" \
        in err.value.problem and "free disk space" in err.value.fix
    assert json.loads(target.read_text()) == {"good": 1} and list(tmp_path.iterdir()) == [target]


def test_permission_error_on_the_rename(tmp_path, monkeypatch):
    target = tmp_path / "stamp.json"

    def refused(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", refused)
    with pytest.raises(TextembedError, match="nothing was written"):
        write_text(target, "x")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_whose_swap_fails_is_put_back(tmp_path, monkeypatch):
    target = tmp_path / "model"
    with atomic_path(target) as staged:
        staged.mkdir()
        (staged / "weights").write_text("v1")
    real_rename = Path.rename

    def second_rename_fails(self, new):
        if self.name == "model" and self.parent != tmp_path:  # the staged folder moving into place
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_rename(self, new)

    monkeypatch.setattr(Path, "rename", second_rename_fails)
    with pytest.raises(TextembedError, match="the previous version is unchanged"):
        with atomic_path(target) as staged:
            staged.mkdir()
            (staged / "weights").write_text("v2")
    assert (target / "weights").read_text() == "v1" and list(tmp_path.iterdir()) == [target]


def test_other_os_errors_pass_through_unchanged(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_path(tmp_path / "out.txt"):
            open(tmp_path / "no-such-input.txt").read()
    assert list(tmp_path.iterdir()) == []
