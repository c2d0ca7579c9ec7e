"""The study: recipe validation, keys, lock, and a real run on a Dask LocalCluster (2 worker processes)
compared with the same analyses run one by one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from app.plugins.study_task import plan, read_recipe
from core.study.folder import read_log, study_lock, task_dir
from core.study.graph import downstream
from core.study.recipe import StudyError
from tests.tolerance import R_F32

RECIPE = """
name = "tiny"
dataset = "{data}"
models = ["minilm"]
paradigms = ["word_clouds"]
[analyses.consistency]
n_permutations = 19
split_halves = false
[analyses.encoding]
targets = ["rois", "areas"]
chunks = {{rois = 2}}
layer = {layer}
[analyses.quartiles]
layer = 6
pooling = "mean"
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("distributed")
    from core.demo.synthetic import make_demo

    return make_demo(tmp_path_factory.mktemp("study") / "tiny", n_participants=2, seed=0, size="tiny")


def _recipe(folder: Path, data: Path, layer: int = 6, extra: str = "") -> Path:
    path = folder / f"recipe-{layer}.toml"
    path.write_text(RECIPE.format(data=data, layer=layer) + extra)
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.mark.parametrize("text, message", [
    ('dataset = "x"\nbogus = 1\n[analyses.consistency]\n', "bogus: unknown key"),
    ('dataset = "x"\nmodels = "minilm"\n[analyses.consistency]\n', "models: expected list"),
    ('dataset = "x"\nparadigms = ["movies"]\n[analyses.consistency]\n', "unknown paradigm 'movies'"),
    ('dataset = "x"\n[analyses.consistency]\nn_permutations = 0\n', "analyses.consistency"),
    ('dataset = "x"\n[analyses.consistency]\nwhatever = 1\n', "analyses.consistency"),
    ('dataset = "x"\n[analyses.nosuch]\n', "analyses.nosuch"),
    ('dataset = "x"\n[analyses.encoding]\nmodel = "gpt2"\n', "set by the study"),
    ('dataset = "x"\n[analyses.encoding]\ntarget_chunk = "1/2"\n', "target_chunk: set by the study"),
    ('dataset = "x"\n[analyses.encoding]\nchunks = 0\n', "chunks.voxels: expected an integer from 1"),
    ('dataset = "x"\n[analyses.encoding]\nchunks = {cells = 2}\n', "chunks.cells: unknown target kind"),
    ('dataset = "x"\n[analyses.consistency]\n[cluster]\ncores = "many"\n', "cluster.cores: expected int"),
    ('[analyses.consistency]\n', "dataset: missing"),
    ('dataset = "/no/such/folder"\n[analyses.consistency]\n', "does not exist"),
    ('dataset = "demo"\nmodels = ["./no/such/model"]\n[analyses.consistency]\n', "models:"),
])
def test_bad_recipes_give_one_line_naming_the_key(tmp_path, text, message):
    path = tmp_path / "r.toml"
    path.write_text(text)
    with pytest.raises(StudyError, match=message) as err:
        read_recipe(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_shipped_recipes_are_valid():
    root = Path(__file__).resolve().parents[1] / "resources" / "studies"
    demo = read_recipe(root / "demo.toml")
    assert demo.models == ["minilm", "smollm2-135m"] and set(demo.analyses) == {"consistency", "encoding",
                                                                                 "quartiles", "rsa"}
    assert demo.targets == ["areas", "rois"] and demo.preset == "paper"
    with pytest.raises(StudyError, match="dataset"):  # the release layout is the user's to point at
        read_recipe(root / "paper.toml")


def test_a_changed_parameter_changes_exactly_the_downstream_keys(tiny, tmp_path):
    a = {t.name: t for t in plan(read_recipe(_recipe(tmp_path, tiny, 6)), tiny)}
    b = {t.name: t for t in plan(read_recipe(_recipe(tmp_path, tiny, 5)), tiny)}
    changed = {n for n in a if a[n].key != b[n].key}
    encoding = {n for n in a if n.startswith("encoding/")}  # the merges and their parts
    assert len(encoding) == 8 and changed == {*encoding, "figures/encoding", "report"}
    assert downstream(list(a.values()), "consistency") == {
        "encoding/minilm/word_clouds/areas", "figures/consistency", "figures/encoding", "report"}
    assert a["figures/consistency"].upstream == ["consistency"]  # Fig. 2 waits for nothing else
    assert a["encoding/minilm/word_clouds/areas"].results_from == "consistency"
    assert a["features/minilm/word_clouds"].params["poolings"] == "mean"


def test_lock_names_its_owner_and_a_dead_owner_is_taken_over(tmp_path):
    with study_lock(tmp_path):
        with pytest.raises(StudyError, match=f"pid {os.getpid()}"):
            with study_lock(tmp_path):
                pass
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    import socket

    (tmp_path / "study.lock").write_text(json.dumps({"pid": int(dead), "host": socket.gethostname()}))
    with study_lock(tmp_path):  # a kill -9 left it behind: taken over
        pass
    assert not (tmp_path / "study.lock").exists()


@pytest.mark.slow
def test_study_on_a_local_cluster(tiny, tmp_path):
    """Run, compare with one-by-one runs, rerun (nothing recomputed), change one parameter (exactly the
    downstream tasks recomputed), and a failing task (reported; independent tasks complete)."""
    from app.plugins.registry import Registry
    from app.plugins.runner import run_analysis

    out = tmp_path / "study"
    recipe = _recipe(tmp_path, tiny, 6)
    run = _cli("study", "run", str(recipe), "--out", str(out), "--workers", "2", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    tasks = {t["name"]: t for t in json.loads((out / "study.json").read_text())["tasks"]}
    assert len(tasks) == 15 and (out / "report.html").is_file()
    rois = "encoding/minilm/word_clouds/rois"
    assert {n for n, t in tasks.items() if t.get("part_of") == rois} == {
        f"{rois}/chunk-{i}of2/sub-M0{p}" for i in (1, 2) for p in (1, 2)}  # chunks x participants
    page = (out / "report.html").read_text()
    assert "quartile_lines" in page and "data:image/png;base64," in page and "encoding_summary.csv" in page
    for group, stem in (("consistency", "fig2_group_consistency"), ("encoding", "fig3_wholebrain_minilm"),
                        ("quartiles", "fig4_quartile_lines"), ("quartiles", "fig12_quartile_heatmaps")):
        figures = task_dir(out, tasks[f"figures/{group}"]["key"])
        assert all((figures / f"{stem}.{ext}").is_file() for ext in ("png", "svg", "csv")), stem
        assert f'alt="{stem}"' in page
    assert (task_dir(out, tasks["figures/encoding"]["key"]) / "group_statistics.csv").is_file()
    assert "Settings: paper or leakage-free" in page
    # the same analyses one by one (the same code path): equal tables
    run_analysis(Registry().load("encoding"), tiny, {"model": "minilm", "paradigm": "word_clouds",
                       "target": "rois", "layer": "6", "participants": "all"}, tmp_path / "one", device="cpu")
    study_table = pd.read_csv(task_dir(out, tasks["encoding/minilm/word_clouds/rois"]["key"]) /
                              "encoding_summary.csv")
    pd.testing.assert_frame_equal(study_table, pd.read_csv(tmp_path / "one" / "encoding_summary.csv"),
                                  check_exact=False, **R_F32)  # merged from chunk x participant tasks
    cons = {"n_permutations": "19", "split_halves": "false"}
    run_analysis(Registry().load("consistency"), tiny, cons, tmp_path / "cons", device="cpu")
    pd.testing.assert_frame_equal(
        pd.read_csv(task_dir(out, tasks["consistency"]["key"]) / "consistency_voxels.csv"),
        pd.read_csv(tmp_path / "cons" / "consistency_voxels.csv"))
    # rerun: everything is already finished
    n_events = len(read_log(out))
    assert _cli("study", "run", str(recipe), "--out", str(out), "--workers", "2").returncode == 0
    assert {e["state"] for e in read_log(out)[n_events:]} == {"cached"}
    # one parameter changed: exactly its downstream tasks run again
    n_events = len(read_log(out))
    changed = _cli("study", "run", str(_recipe(tmp_path, tiny, 5)), "--out", str(out), "--workers", "2")
    assert changed.returncode == 0, changed.stderr
    ran = {e["task"] for e in read_log(out)[n_events:] if e["state"] == "done"}
    assert ran == {n for n in tasks if n.startswith("encoding/")} | {"figures/encoding", "report"}
    # a task that raises: reported with its traceback, independent tasks complete, downstream blocked
    bad = _recipe(tmp_path, tiny, 4).read_text().replace(
        'targets = ["rois", "areas"]', 'targets = ["rois"]\nrois = "/no/such/rois.nii.gz"')
    (tmp_path / "bad.toml").write_text(bad)
    failed = _cli("study", "run", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "bad"),
                  "--workers", "2")
    assert failed.returncode == 1 and "encoding/minilm/word_clouds/rois" in failed.stderr
    status = _cli("study", "status", str(tmp_path / "bad"))
    assert "failed" in status.stdout and "ROI map not found" in status.stdout and "Traceback" in status.stdout
    assert "finished  quartiles/minilm/word_clouds" in status.stdout
    assert "blocked   report" in status.stdout
    # a second run while one holds the folder: a clear error, exit 2
    with study_lock(out):
        busy = _cli("study", "run", str(recipe), "--out", str(out))
    assert busy.returncode == 2 and "in use by a study run" in busy.stderr


def _summary(out: Path, name: str, file: str) -> pd.DataFrame:
    tasks = {t["name"]: t for t in json.loads((out / "study.json").read_text())["tasks"]}
    return pd.read_csv(task_dir(out, tasks[name]["key"]) / file)


@pytest.mark.slow
def test_killed_worker_and_killed_client_resume(tiny, tmp_path):
    """A worker process killed mid-study: Dask reruns its task elsewhere and the outputs equal an
    undisturbed run. The client killed (SIGKILL) mid-study, then rerun: only unfinished tasks run."""
    import signal
    import threading
    import time

    from distributed import Client, LocalCluster

    from app.plugins.study_task import dataset_location, run_task
    from core.study.engine import run_study
    from core.study.folder import write_study

    recipe = read_recipe(_recipe(tmp_path, tiny, 6))
    tasks = plan(recipe, dataset_location(recipe))
    reference = tmp_path / "reference"
    assert _cli("study", "run", str(recipe.path), "--out", str(reference), "--workers", "2").returncode == 0

    out = tmp_path / "killed-worker"
    write_study(out, recipe.path.read_text(), [t.to_dict() for t in tasks])
    context = {"dataset": str(tiny), "device": "cpu", "preset": None, "study_dir": str(out)}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        killed = []

        def killer():
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not killed:
                if any(p.name.startswith(".tmp-") for p in (out / "tasks").glob("*")):
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
                time.sleep(0.05)

        thread = threading.Thread(target=killer)
        thread.start()
        states = run_study(tasks, out, run_task, context, client)
        thread.join()
    assert killed and set(states.values()) == {"done"}
    for name, file in (("consistency", "consistency_voxels.csv"),
                       ("encoding/minilm/word_clouds/rois", "encoding_summary.csv"),
                       ("quartiles/minilm/word_clouds", "quartile_cells.csv")):
        pd.testing.assert_frame_equal(_summary(out, name, file), _summary(reference, name, file))

    # the client killed after its first finished task; the rerun does only what was not finished
    out2 = tmp_path / "killed-client"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "app", "study", "run", str(recipe.path), "--out", str(out2),
               "--workers", "1"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list((out2 / "tasks").glob("*/task.json")):
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(2)  # orphaned workers may still finish what they held
    finished = {p.parent.name for p in (out2 / "tasks").glob("*/task.json")}
    assert 1 <= len(finished) < len(tasks)
    n = len(read_log(out2))
    assert _cli("study", "run", str(recipe.path), "--out", str(out2), "--workers", "2").returncode == 0
    ran = [e for e in read_log(out2)[n:] if e["state"] == "done"]
    assert len(ran) <= len(tasks) - len(finished) and not {e["key"] for e in ran} & finished
    rois = ("encoding/minilm/word_clouds/rois", "encoding_summary.csv")
    pd.testing.assert_frame_equal(_summary(out2, *rois), _summary(reference, *rois))


def test_the_study_scheduler_assumes_study_sized_task_durations():
    """make_client's scheduler takes SCHEDULER_CONFIG: an unknown task lasts 5 s, not Dask's 0.5 s (with
    0.5 s, work stealing never moved a task queued behind a running one to an idle worker)."""
    from core.study.engine import make_client

    client = make_client(workers=1)
    try:
        duration = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.UNKNOWN_TASK_DURATION)
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    assert duration == 5.0
