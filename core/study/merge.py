"""Merging the parts of a split task (``kind="merge"``: per participant or per target chunk) into the
folder an unsplit run writes: every CSV concatenated in the parts' order, every file that only one part
wrote (a participant's maps) copied, maps that several parts wrote under one name (a chunk's voxels of
one participant, NaN elsewhere) filled from each other, and a provenance that names the parts. Other
files that several parts wrote under one name (per-run figures, provenance, manifests) are not copied:
they describe one part, not the whole; the plugin's ``finish_merge`` remakes what needs every part."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pandas as pd

from core.errors import DataError

SKIP = {"task.json"}


def merge_parts(parts: list[str | Path], out: str | Path) -> dict[str, list[str]]:
    """Merge the finished part folders ``parts`` into ``out``.

    Returns {"concatenated": CSV names, "copied": file names, "filled": maps written by several parts,
    "dropped": other names written by several parts}.
    A part's CSV that cannot be read raises :class:`core.errors.DataError` naming the file.
    """
    parts = [Path(p) for p in parts]
    out = Path(out)
    seen: dict[str, list[Path]] = {}
    for part in parts:
        for path in sorted(part.rglob("*")):
            if path.is_file() and path.name not in SKIP:
                seen.setdefault(str(path.relative_to(part)), []).append(path)
    report: dict[str, list[str]] = {"concatenated": [], "copied": [], "filled": [], "dropped": []}
    for rel, paths in sorted(seen.items()):
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".csv"):
            frames = []
            for path in paths:
                try:
                    frames.append(pd.read_csv(path))
                except (OSError, ValueError, pd.errors.ParserError) as exc:
                    raise DataError(path, f"cannot read a part's table ({exc})") from None
            frames = [f for f in frames if not f.empty] or frames[:1]
            pd.concat(frames, ignore_index=True).to_csv(target, index=False)
            report["concatenated"].append(rel)
        elif len(paths) == 1:
            shutil.copyfile(paths[0], target)
            report["copied"].append(rel)
        elif rel.endswith((".nii", ".nii.gz")):
            fill_maps(paths, target)
            report["filled"].append(rel)
        else:
            report["dropped"].append(rel)
    provenance = {"merged_from": [str(p) for p in parts], "files": report}
    first = parts[0] / "provenance.json" if parts else None
    if first is not None and first.is_file():
        base = json.loads(first.read_text(encoding="utf-8"))
        pids = []
        for part in parts:
            with contextlib.suppress(OSError, ValueError):
                prov = json.loads((part / "provenance.json").read_text(encoding="utf-8"))
                pids.append(str(prov.get("parameters", {}).get("participants", "?")))
        base["parameters"] = {**base.get("parameters", {}), "participants": ",".join(pids)}
        provenance = {**base, **provenance}
    (out / "provenance.json").write_text(json.dumps(provenance, indent=1, default=str), encoding="utf-8")
    return report


def fill_maps(paths: list[Path], target: Path) -> None:
    """One NIfTI map from several of the same grid: each voxel takes its value from the first map where
    it is finite (NaN where none is). DataError naming the file for a map of another grid."""
    import nibabel as nib
    import numpy as np

    first = nib.load(paths[0])
    data = np.asarray(first.dataobj, dtype=np.float32)
    for path in paths[1:]:
        img = nib.load(path)
        if img.shape != first.shape or not np.allclose(img.affine, first.affine):
            raise DataError(path, f"a part's map is on another grid than {paths[0].name}")
        other = np.asarray(img.dataobj, dtype=np.float32)
        data = np.where(np.isfinite(data), data, other)
    nib.save(nib.Nifti1Image(data, first.affine, first.header), target)
