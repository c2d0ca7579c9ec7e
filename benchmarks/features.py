"""Feature extraction: length-sorted batches against the paper's one-text-at-a-time loop.

Workload: the 1080 real sentences of ``complang_paradigms_stims.csv``, every hidden state, mean
pooling, float32 on CPU, for the packaged models ``minilm`` and ``smollm2-135m``.
- ours: :func:`core.features.dataset.features_for_texts` (length-sorted batches under a token budget,
  per-layer pooling by hooks, masked pooling), which also writes the safetensors cache; then the
  cached re-run (a second call that reads it); then the same sentences in bfloat16, timed, with
  its error against float32;
- peer: the paper's procedure (method.md §3.3): one sentence per forward pass, no padding, the
  ``AutoModelForCausalLM`` class for decoders (``AutoModel`` for the BERT-type MiniLM), mean over
  token positions of every hidden state.
Each side runs in its own subprocess so its peak memory (``ru_maxrss``) is its own. Model load time
is reported apart from extraction time. Prints ``name: ours X s, peer Y s, ratio R`` and appends
to BENCHMARKS.md with a machine line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import append_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
STIMULI = (
    Path(os.environ.get("CBS_SHARED_DATA", REPO.parent / "shared" / "data" / "concepts-brain-llms"))
    / "data"
    / "stimuli"
    / "complang_paradigms_stims.csv"
)


def sentences(limit: int | None = None):
    from core.data.stimuli import read_stimulus_table
    from core.features.texts import stimulus_texts

    frame = stimulus_texts(read_stimulus_table(STIMULI), "sentences")
    return frame.iloc[:limit].reset_index(drop=True) if limit else frame


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_ours(model: str, limit: int | None, batch_size: int | None, out: Path) -> dict:
    """Ours alone, end to end: load, all sentences (writes the cache), cached re-run, peak memory."""
    from core.features.dataset import features_for_texts
    from core.features.loading import load_model

    frame = sentences(limit)
    t0 = time.perf_counter()
    lm = load_model(model, device="cpu")
    load_s = time.perf_counter() - t0
    cache = Path(tempfile.mkdtemp(prefix="cbs-bench-cache-"))
    t0 = time.perf_counter()
    first = features_for_texts(lm, frame, "sentences", ("mean",), batch_size=batch_size, cache_dir=cache)
    run_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = features_for_texts(model, frame, "sentences", ("mean",), cache_dir=cache)["mean"]
    cached_s = time.perf_counter() - t0
    assert again.from_cache and np.array_equal(again.hidden, first["mean"].hidden)
    np.save(out, again.hidden, allow_pickle=False)
    from core.features.extract import extract_hidden_states

    texts = frame["text"].tolist()
    bf = load_model(model, device="cpu", dtype="bfloat16")
    extract_hidden_states(bf, texts[:2])  # warm-up
    t0 = time.perf_counter()
    half = extract_hidden_states(bf, texts, ("mean",), batch_size=batch_size)["mean"]
    bf16_s = time.perf_counter() - t0
    ref = again.hidden
    scale = np.abs(ref).max(axis=(0, 2), keepdims=True)  # per layer
    bf16_rel = float((np.abs(half - ref) / scale).max())
    bf16_med = float(np.median(np.abs(half - ref) / scale))
    return {
        "bf16_s": bf16_s, "bf16_rel": bf16_rel, "bf16_med": bf16_med,
        "load_s": load_s, "run_s": run_s, "cached_s": cached_s, "peak_mb": peak_mb(),
        "cache_mb": again.cache_file.stat().st_size / 2**20, "shape": list(again.hidden.shape),
    }  # fmt: skip


#: sentences per interleaved chunk (ours runs a whole chunk, the peer every ``peer_every``-th of it)
CHUNK = 180


def worker_paired(model: str, limit: int | None, batch_size: int | None, peer_every: int, out: Path) -> dict:
    """Ours and the peer interleaved chunk by chunk, so both see the same machine load.

    Ours runs every sentence of a chunk; the peer (the paper's loop) runs every ``peer_every``-th
    sentence of the same chunk, its time scaled by the sentence count. The peer's peak memory is read
    before our model is loaded.
    """
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    from core.features.extract import extract_hidden_states
    from core.features.gguf import dequantised_folder
    from core.features.loading import load_model
    from core.features.registry import resolve_model

    spec = resolve_model(model)
    folder = dequantised_folder(spec.source, spec.gguf_file, spec.key) if spec.gguf_file else spec.source
    texts = sentences(limit)["text"].tolist()
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(folder)
    net = (AutoModel if spec.key == "minilm" else AutoModelForCausalLM).from_pretrained(folder).eval()
    peer_load_s = time.perf_counter() - t0

    def peer(chunk: list[str]) -> list[np.ndarray]:
        rows = []
        with torch.no_grad():
            for text in chunk:
                inputs = tok(text, return_tensors="pt", padding=False)
                hs = net(**inputs, output_hidden_states=True).hidden_states
                rows.append(np.stack([h[0].mean(dim=0).numpy() for h in hs]))
        return rows

    peer(texts[:2])  # warm-up
    chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
    peer_s, peer_rows, n_peer = 0.0, [], 0
    t0 = time.perf_counter()
    peer_rows += peer(chunks[0][::peer_every])
    peer_s += time.perf_counter() - t0
    peer_peak = peak_mb()
    lm = load_model(model, device="cpu")
    extract_hidden_states(lm, texts[:2])  # warm-up
    ours_s = 0.0
    for k, chunk in enumerate(chunks):
        if k:
            t0 = time.perf_counter()
            peer_rows += peer(chunk[::peer_every])
            peer_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        extract_hidden_states(lm, chunk, ("mean",), batch_size=batch_size)
        ours_s += time.perf_counter() - t0
    n_peer = len(peer_rows)
    rows = [i for k in range(len(chunks)) for i in range(k * CHUNK, k * CHUNK + len(chunks[k]), peer_every)]
    np.save(out, np.stack(peer_rows).astype(np.float32), allow_pickle=False)
    np.save(str(out) + ".rows.npy", np.asarray(rows), allow_pickle=False)
    return {
        "ours_s": ours_s, "peer_s": peer_s * len(texts) / n_peer, "n_peer": n_peer,
        "peer_load_s": peer_load_s, "peer_peak_mb": peer_peak,
    }  # fmt: skip


def run_worker(kind: str, model: str, args, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--models", model, "--out", str(out)]
    cmd += ["--peer-every", str(args.peer_every)]
    if args.batch_size:
        cmd += ["--batch-size", str(args.batch_size)]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} worker for {model} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="minilm,smollm2-135m")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="most texts per batch (default: token budget)"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only (default all 1080)")
    parser.add_argument(
        "--peer-every",
        type=int,
        default=9,
        help="the (slow) peer runs every N-th sentence of each chunk; 1 = all sentences",
    )
    parser.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    parser.add_argument("--worker", choices=("ours", "paired"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()  # fmt: skip
    if args.worker == "ours":
        print(json.dumps(worker_ours(args.models, args.limit, args.batch_size, Path(args.out))))
        return
    if args.worker == "paired":
        result = worker_paired(args.models, args.limit, args.batch_size, args.peer_every, Path(args.out))
        print(json.dumps(result))
        return
    if not STIMULI.is_file():
        raise SystemExit(f"needs the paper's stimulus table at {STIMULI}")
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            ours = run_worker("ours", model, args, Path(tmp) / "ours.npy")
            pair = run_worker("paired", model, args, Path(tmp) / "peer.npy")
            rows = np.load(Path(tmp) / "peer.npy.rows.npy")
            a, b = np.load(Path(tmp) / "ours.npy")[rows], np.load(Path(tmp) / "peer.npy")
            rel = float((np.abs(a - b) / np.abs(b).max(axis=(0, 2), keepdims=True)).max())
            n, layers, hidden = ours["shape"]
            ratio = pair["peer_s"] / pair["ours_s"]
            scaled = "" if pair["n_peer"] == n else f" (timed on {pair['n_peer']} of them, scaled)"
            batching = f"batch {args.batch_size}" if args.batch_size else "token budget"
            line = (f"features {model} ({n} sentences, {layers} hidden states x {hidden}, mean, fp32, cpu, "
                    f"{batching}): ours {pair['ours_s']:.2f} s, "
                    f"peer {pair['peer_s']:.2f} s{scaled}, "
                    f"ratio {ratio:.1f}")  # fmt: skip
            detail = (f"  interleaved chunk by chunk under the same load; ours alone end to end "
                      f"{ours['run_s']:.2f} s; cached re-run {ours['cached_s']:.3f} s (cache file "
                      f"{ours['cache_mb']:.1f} MB); load ours {ours['load_s']:.1f} s, "
                      f"peer {pair['peer_load_s']:.1f} s; "
                      f"peak RSS ours {ours['peak_mb']:.0f} MB, peer {pair['peer_peak_mb']:.0f} MB; "
                      f"max |ours - peer| / per-layer max |peer| = {rel:.1e}; "
                      f"bf16 (alone) {ours['bf16_s']:.2f} s, |bf16 - fp32| / per-layer max |fp32|: "
                      f"max {ours['bf16_rel']:.1e}, median {ours['bf16_med']:.1e}")  # fmt: skip
            print(line)
            print(detail)
            lines.append(line + "\n" + detail)
    if not args.no_append:
        append_results("features", lines)


if __name__ == "__main__":
    main()
