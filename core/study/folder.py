"""The study folder: its lock, its task log and the finished tasks' folders.

::

    DIR/study.json          the recipe (text), the task graph with keys, when it was planned
    DIR/study.lock          {"pid", "host", "started"} while a ``study run`` holds the folder
    DIR/log.jsonl           one JSON line per task event (done / cached / failed / blocked), appended
    DIR/tasks/<key>/        a finished task's outputs, provenance and task.json (written last)
    DIR/features/           the study's feature cache (shared by every worker)
    DIR/report.html
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.atomic import atomic_dir, atomic_file
from core.study.recipe import StudyError

LOCK = "study.lock"
LOG = "log.jsonl"
DONE = "task.json"


def task_dir(study_dir: str | Path, key: str) -> Path:
    return Path(study_dir) / "tasks" / key


def is_done(study_dir: str | Path, key: str) -> bool:
    return (task_dir(study_dir, key) / DONE).is_file()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def study_lock(study_dir: str | Path) -> Iterator[Path]:
    """Hold ``DIR/study.lock`` for the duration; a second holder gets a clear error. A lock left by a dead
    process on this host is taken over (a kill -9 leaves one behind)."""
    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    path = study_dir / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = json.loads(path.read_text())
            except (OSError, ValueError):
                owner = {}
            pid = owner.get("pid")
            if owner.get("host") == me["host"] and isinstance(pid, int) and not _alive(pid):
                path.unlink(missing_ok=True)  # stale: its owner is gone
                continue
            raise StudyError(f"{study_dir}: in use by a study run (pid {pid or '?'} on host "
                             f"{owner.get('host', '?')} since {owner.get('started', '?')}); if that run is "
                             f"gone, remove {path}") from None
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def append_log(study_dir: str | Path, **event) -> None:
    """Append one event line to ``DIR/log.jsonl`` (one write, so lines never interleave)."""
    event = {"time": time.strftime("%Y-%m-%d %H:%M:%S"), **event}
    with open(Path(study_dir) / LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(event) + "\n")


def read_log(study_dir: str | Path) -> list[dict]:
    path = Path(study_dir) / LOG
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def staged_task_dir(study_dir: str | Path, key: str):
    """A staging folder that becomes ``DIR/tasks/<key>`` (one directory rename) only if the block
    succeeds (:func:`core.atomic.atomic_dir`); an interrupted task leaves nothing under its key, and a
    copy that finished elsewhere meanwhile (e.g. after a retry) is kept."""
    return atomic_dir(task_dir(study_dir, key), complete=lambda path: (path / DONE).is_file())


def write_study(study_dir: str | Path, recipe_text: str, tasks: list[dict]) -> None:
    record = {"recipe": recipe_text, "tasks": tasks, "planned": time.strftime("%Y-%m-%d %H:%M:%S")}
    with atomic_file(Path(study_dir) / "study.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")


def read_study(study_dir: str | Path) -> dict:
    path = Path(study_dir) / "study.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise StudyError(f"{study_dir}: not a study folder (no readable study.json)") from None
