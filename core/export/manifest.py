"""Run manifests: ``manifest.json`` in an output folder lists the files a run wrote, so a rerun into the
same folder can remove exactly the files the previous run made and the new one does not (and never any
other file a user keeps there)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

MANIFEST = "manifest.json"


def read_manifest(folder: str | Path) -> list[str]:
    """Relative paths listed by ``folder/manifest.json`` ([] when absent or unreadable)."""
    path = Path(folder) / MANIFEST
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [f for f in files if isinstance(f, str)]


def write_manifest(folder: str | Path, files: list[str], analysis: str) -> Path:
    """Write ``manifest.json`` listing ``files`` (relative paths; the manifest itself included)."""
    path = Path(folder) / MANIFEST
    listed = sorted(set(files) | {MANIFEST})
    path.write_text(json.dumps({"analysis": analysis, "files": listed}, indent=1), encoding="utf-8")
    return path


def remove_stale(folder: str | Path, previous: list[str], current: list[str]) -> list[Path]:
    """Delete the files of ``previous`` that ``current`` does not list; only plain files inside
    ``folder``, never anything outside it. Returns the removed paths."""
    root = Path(folder).resolve()
    keep = set(current) | {MANIFEST}
    removed = []
    for rel in previous:
        if rel in keep:
            continue
        path = (root / rel).resolve()
        if root not in path.parents or not path.is_file() or path.is_symlink():
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
            parent = path.parent
            while parent != root and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
    return removed
