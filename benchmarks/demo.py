"""Demo dataset generation: wall time and peak memory of ``make_demo`` (``cbstudio demo``).

Run: ``.venv/bin/python benchmarks/demo.py [--full-participants 1] [--skip-full]``. Each case runs in a
fresh Python process (so imports and peak RSS are counted as a user sees them): ``small`` on the
template texts (their all-MiniLM-L6-v2 features ship in resources/demo_features), ``small`` on the
paper's stimulus table with an empty feature cache (all-MiniLM-L6-v2 runs on its 1,440 texts; only
where ../shared has the table), then ``full``. There is no peer; lines read
``name: ours X s (no peer), peak Y MB`` and are appended to BENCHMARKS.md with a machine line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import append_results

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time
t = time.perf_counter()
from core.demo.synthetic import make_demo
make_demo(sys.argv[1], n_participants=int(sys.argv[2]), size=sys.argv[3], seed=0,
          stimuli_path=sys.argv[4] or None)
wall = time.perf_counter() - t
print(json.dumps({"wall": wall, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""



def _run(out: Path, participants: int, size: str, stimuli: Path | None, cache: Path) -> dict:
    env = dict(os.environ, CBS_DEMO_CACHE=str(cache))
    cmd = [sys.executable, "-c", CHILD, str(out), str(participants), size, str(stimuli or "")]
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    stats["disk_mb"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=3, help="participants for size small")
    parser.add_argument("--full-participants", type=int, default=1, help="participants for size full")
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--no-append", action="store_true", help="do not write BENCHMARKS.md")
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory(prefix="cbs-demo-bench-") as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        n_small = args.participants
        cases = [("small", n_small, None, "template texts")]
        real = REPO.parent / "shared" / "data" / "concepts-brain-llms" / "data" / "stimuli"
        if (real / "complang_paradigms_stims.csv").is_file():
            cases.append(("small", n_small, real / "complang_paradigms_stims.csv",
                          "paper's stimulus table, cold feature cache (MiniLM on 1,440 texts)"))
        if not args.skip_full:
            cases.append(("full", args.full_participants, None, "template texts"))
        for k, (size, n, stimuli, note) in enumerate(cases):
            out = tmp / f"demo{k}"
            s = _run(out, n, size, stimuli, cache)
            lines.append(f"demo make_demo size={size}, {n} participant(s), {note}: ours {s['wall']:.1f} s "
                         f"(no peer), peak {s['peak_mb']:.0f} MB, {s['disk_mb']:.0f} MB on disk")
            print(lines[-1], flush=True)
            shutil.rmtree(out)
    if not args.no_append:
        append_results("demo", lines)


if __name__ == "__main__":
    main()
