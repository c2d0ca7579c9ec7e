"""Command-line start-up: wall time of ``cbstudio --help`` and ``cbstudio plugins`` (issue 11 item 5).

Run: ``.venv/bin/python benchmarks/startup.py [--repeats 5] [--peer REV] [--no-append]``. Each call is a
fresh ``python -m app ...`` process, timed from spawn to exit, as a user sees it. The peer is the same
command on an earlier commit (default ``HEAD``, the last committed tree), unpacked with ``git archive``
into a temporary folder and run with the same interpreter (so the same installed packages); ours and
the peer alternate call by call under the same load. After one warm-up call of each, the median of
``--repeats`` calls is reported as ``name: ours X s, peer Y s, ratio R; goal <= G s`` (ratio = peer /
ours, > 1 means ours is faster) and appended to BENCHMARKS.md with the machine line. The lines also
name the heavy modules (torch, numba, pandas, transformers, PySide6) each command imported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from _common import append_results

REPO = Path(__file__).resolve().parents[1]
CASES = (("cbstudio --help", ("--help",), 0.5), ("cbstudio plugins", ("plugins",), 1.0))
HEAVY = ("torch", "numba", "pandas", "transformers", "PySide6")

_MODULES = """
import contextlib, io, json, sys
sys.argv = ["cbstudio", *{argv!r}]
from app.__main__ import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))))
"""


def _unpack(rev: str, into: Path) -> Path:
    """The ``app``, ``core`` and ``resources`` folders of commit ``rev`` under ``into``."""
    archive = subprocess.run(["git", "archive", rev, "app", "core", "resources"], cwd=REPO,
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def _wall(tree: Path, argv: tuple[str, ...]) -> float:
    """Seconds from spawn to exit of ``python -m app *argv`` run in ``tree``."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "app", *argv], cwd=tree, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{tree}: cbstudio {' '.join(argv)} failed: {proc.stderr[-2000:]}")
    return wall


def _heavy_imports(tree: Path, argv: tuple[str, ...]) -> list[str]:
    code = _MODULES.format(argv=list(argv), heavy=list(HEAVY))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per command (after one warm-up)")
    parser.add_argument("--peer", default="HEAD", help="commit whose tree is the peer ('none': no peer)")
    parser.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory(prefix="cbs-startup-") as tmp:
        peer = None if args.peer == "none" else _unpack(args.peer, Path(tmp))
        for name, argv, goal in CASES:
            trees = {"ours": REPO, **({"peer": peer} if peer else {})}
            for tree in trees.values():
                _wall(tree, argv)  # warm-up: file cache, .pyc files
            times: dict[str, list[float]] = {k: [] for k in trees}
            for _ in range(args.repeats):
                for key, tree in trees.items():  # interleaved: both under the same load
                    times[key].append(_wall(tree, argv))
            ours = statistics.median(times["ours"])
            heavy = {k: _heavy_imports(tree, argv) for k, tree in trees.items()}
            verdict = f"goal <= {goal} s ({'met' if ours <= goal else 'NOT met'})"
            if peer:
                other = statistics.median(times["peer"])
                line = (f"{name}: ours {ours:.2f} s, peer {other:.2f} s ({args.peer}), "
                        f"ratio {other / ours:.1f}; {verdict}")
            else:
                line = f"{name}: ours {ours:.2f} s (no peer); {verdict}"
            line += (f"\n  median of {args.repeats} after one warm-up; heavy modules imported: ours "
                     f"{', '.join(heavy['ours']) or 'none'}"
                     + (f", peer {', '.join(heavy['peer']) or 'none'}" if peer else ""))
            print(line, flush=True)
            lines.append(line)
    if not args.no_append:
        append_results("startup", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
