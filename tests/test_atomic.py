"""core.atomic: the one temp-file + os.replace rule of the cache and dataset writers."""

from __future__ import annotations

import numpy as np
import pytest

from core.atomic import atomic_dir, atomic_file


def test_atomic_file_replaces_and_keeps_the_extension(tmp_path):
    dest = tmp_path / "sub" / "x.npy"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    with atomic_file(dest) as tmp:
        assert tmp.parent == dest.parent and tmp.name.endswith("x.npy") and not tmp.exists()
        np.save(tmp, np.arange(3))  # np.save appends .npy unless the name already ends with it
        assert dest.read_bytes() == b"old"  # untouched until the block succeeds
    np.testing.assert_array_equal(np.load(dest), np.arange(3))
    assert sorted(p.name for p in dest.parent.iterdir()) == ["x.npy"]


def test_atomic_file_error_leaves_old_content_and_no_temp(tmp_path):
    dest = tmp_path / "new" / "d.json"  # parent is created
    with pytest.raises(RuntimeError), atomic_file(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_atomic_dir_renames_on_success_and_cleans_on_error(tmp_path):
    dest = tmp_path / "cache" / "model"
    with atomic_dir(dest) as tmp:
        (tmp / "a.txt").write_text("a")
    assert (dest / "a.txt").read_text() == "a"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model"]
    other = tmp_path / "cache" / "other"
    with pytest.raises(ValueError), atomic_dir(other) as tmp:
        (tmp / "b.txt").write_text("b")
        raise ValueError
    assert sorted(p.name for p in other.parent.iterdir()) == ["model"]


def test_atomic_dir_keeps_a_complete_copy_written_first(tmp_path):
    dest = tmp_path / "conv"
    with atomic_dir(dest, complete=lambda d: (d / "done").is_file()) as tmp:
        (tmp / "done").write_text("ours")
        dest.mkdir()  # another process finishes first
        (dest / "done").write_text("theirs")
    assert (dest / "done").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["conv"]
    incomplete = tmp_path / "conv2"
    with pytest.raises(OSError), atomic_dir(incomplete, complete=lambda d: (d / "done").is_file()) as tmp:
        (tmp / "done").write_text("ours")
        incomplete.mkdir()
        (incomplete / "partial").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv", "conv2"]
