"""``cbstudio info`` on every reader, ``plugins``, and exit codes (0 ok, 2 bad input with one stderr line)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import core.data.readers.release as release
from app.cli import main
from app.plugins.registry import Registry
from tests.reader_files import build_native, build_pereira, build_release


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    return {"native": build_native(root), "pereira": build_pereira(root), "release": build_release(root)}


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(release, "release_cache_dir", lambda: tmp_path / "cache")


EXPECTED = {  # reader -> (participant, voxels, trials per paradigm, extras)
    "native": ("S1", 24, {"sentences": 40, "pictures": 40, "word_clouds": 40}, True),
    "pereira": ("P01", 12, {"sentences": 180, "pictures": 180, "word_clouds": 180}, False),
    # release: a 3 x 3 x 2 block of finite betas in both paradigms, every voxel has a language value
    "release": ("S01", 18, {"sentences": 4, "pictures": 4}, True),
}


@pytest.mark.parametrize("reader", ["native", "pereira", "release"])
def test_info_json(datasets, reader, capsys):
    assert main(["info", "--json", str(datasets[reader])]) == 0
    info = json.loads(capsys.readouterr().out)
    pid, voxels, trials, language = EXPECTED[reader]
    assert info["reader"] == reader and info["n_concepts"] == 180
    assert info["paradigms"] == list(trials)
    (sub,) = info["participants"]
    assert sub["participant"] == pid and sub["voxels"] == voxels and sub["trials"] == trials
    assert sub["language_map"] is language


@pytest.mark.parametrize("reader", ["native", "pereira", "release"])
def test_info_text(datasets, reader, capsys):
    assert main(["info", str(datasets[reader])]) == 0
    out, err = capsys.readouterr()
    pid, voxels, _trials, _language = EXPECTED[reader]
    assert f"({reader} reader" in out and "participants 1:" in out
    assert pid in out and f"{voxels} voxels" in out
    assert err == ""


def test_info_bad_input_exits_2_with_one_line(datasets, tmp_path, capsys):
    bad = tmp_path / "P09"
    bad.mkdir()
    (bad / "data_180concepts_sentences.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)
    for path in (bad, tmp_path / "missing", tmp_path):
        before = sorted(p.name for p in tmp_path.iterdir())
        assert main(["info", str(path)]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and err.startswith("cbstudio: error: ")
        assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert main(["info", str(bad)]) == 2
    assert "data_180concepts_sentences.mat" in capsys.readouterr().err


def test_plugins_lists_every_entry_point(capsys):
    assert main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    names = {p["name"] for p in listing["plugins"]} | set(listing["errors"])
    assert names == set(Registry().names())
    for p in listing["plugins"]:
        assert p["title"] and isinstance(p["outputs"], list)


def test_run_bad_input_exit_codes(tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert main(["run", "no-such-analysis", "--out", str(out_dir)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    names = Registry().names()
    if names:
        assert main(["run", names[0], "--data", str(tmp_path / "nowhere"), "--out", str(out_dir)]) == 2
        assert capsys.readouterr().err.count("\n") == 1
    assert not out_dir.exists()


def test_console_script_bad_path(tmp_path):
    exe = Path(sys.executable).with_name("cbstudio")
    if not exe.is_file():
        pytest.skip("cbstudio console script not installed in this environment")
    bad = tmp_path / "broken.mat"
    bad.write_bytes(b"\x00\x01garbage")
    res = subprocess.run([str(exe), "info", str(bad)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and str(bad) in lines[0], res.stderr


def test_run_bad_parameter_prints_only_the_error_line(tiny_native, tmp_path, capsys):
    """Regression: the progress bar used to be drawn on stderr before the parameters were checked, so
    the error came out glued to a '0%|' bar instead of as one clean line."""
    out_dir = tmp_path / "out"
    args = ["run", "consistency", "--data", str(tiny_native[0]), "--out", str(out_dir)]
    assert main([*args, "--set", "n_permutations=abc"]) == 2
    err = capsys.readouterr().err
    assert err == "cbstudio: error: n_permutations: cannot read 'abc' as int\n", err
    assert not out_dir.exists()


def test_ctrl_c_inside_compiled_code_is_an_interrupt(tiny_native, tmp_path, monkeypatch, capsys):
    """Regression: SIGINT while the numba permutation kernel ran came out as 'analysis failed:
    SystemError: CPUDispatcher(...) returned a result with an exception set' (exit 2); CPython chains
    the pending KeyboardInterrupt as the cause, and that is now reported as an interrupt (exit 130)."""
    import app.plugins.runner as runner

    def interrupted_in_kernel(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            try:
                raise SystemError("_numba_unpickle returned a result with an exception set") from exc
            except SystemError as inner:
                raise SystemError("CPUDispatcher(kernel) returned a result with an exception set") from inner

    monkeypatch.setattr(runner, "run_analysis", interrupted_in_kernel)
    out_dir = tmp_path / "out"
    assert main(["run", "consistency", "--data", str(tiny_native[0]), "--out", str(out_dir)]) == 130
    assert capsys.readouterr().err == "cbstudio: interrupted\n"
    assert not out_dir.exists()
