"""``cbstudio features``: pooled hidden states of every stimulus of one paradigm, written to a folder.

Output (written atomically):
- ``features.safetensors``: float32 tensor ``hidden`` (n_stimuli, n_layers + 1, hidden_size), layer 0 =
  embeddings, with string metadata (model id, revision, paradigm, pooling, dtype, row keys);
- ``stimuli.tsv``: concept, stimulus_idx, text, in the same row order (stimulus_idx empty where one
  input stands for the whole concept, e.g. word clouds).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from app.cli_progress import tqdm_progress
from core.errors import DataError
from core.features.registry import POOLINGS
from core.names import PARADIGMS


def register(subparsers) -> None:
    p = subparsers.add_parser("features", help="extract language-model features of the stimuli")
    p.add_argument("--model", help="registry key (see --list), Hugging Face id, or local model folder")
    p.add_argument("--stimuli", help="native stimuli.tsv or the paper's complang_paradigms_stims.csv/.xlsx")
    p.add_argument("--paradigm", choices=PARADIGMS, default="sentences")
    p.add_argument("--out", help="output folder")
    p.add_argument("--pooling", choices=POOLINGS, default="mean")
    p.add_argument(
        "--batch-size",
        dest="batch_size",
        type=int,
        default=None,
        help="most texts per forward pass (default: a token budget sized from the model and memory)",
    )
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "bfloat16", "float16"),
        help="bfloat16 is faster; its error against float32 is measured in BENCHMARKS.md (features)",
    )
    p.add_argument(
        "--no-cache", dest="use_cache", action="store_false", help="recompute; do not touch the cache"
    )
    p.add_argument(
        "--trust-remote-code", action="store_true", help="allow custom model code (off by default)"
    )
    p.add_argument("--list", action="store_true", help="list the registered models and exit")
    p.set_defaults(func=cmd_features)


def cmd_features(args) -> int:
    from core.errors import ParameterError

    if args.list:
        from core.features.registry import describe_models

        for row in describe_models():
            print(
                f"{row['key']:<22} {row['source']:<34} layers={row['n_layers']} hidden={row['hidden']} "
                f"poolings={row['poolings']}{' VLM' if row['vlm'] else ''}"
            )
        return 0
    missing = [f"--{n}" for n in ("model", "stimuli", "out") if not getattr(args, n)]
    if missing:
        raise ParameterError(f"features needs {', '.join(missing)}")
    if not Path(args.stimuli).exists():
        raise DataError(args.stimuli, "does not exist")
    t0 = time.perf_counter()
    result = write_features(
        args.model,
        args.stimuli,
        args.paradigm,
        args.out,
        pooling=args.pooling,
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
        use_cache=args.use_cache,
        trust_remote_code=args.trust_remote_code,
        progress=tqdm_progress(f"features {args.model}"),
    )
    n, layers, hidden = result.hidden.shape
    source = "cache" if result.from_cache else "model"
    print(
        f"{args.out}: {n} stimuli x {layers} layers x {hidden} ({args.pooling}, from {source}, "
        f"{time.perf_counter() - t0:.1f} s)",
        file=sys.stderr,
    )
    return 0


def write_features(
    model,
    stimuli,
    paradigm: str,
    out,
    pooling: str = "mean",
    batch_size: int | None = None,
    device: str = "auto",
    dtype: str = "float32",
    use_cache: bool = True,
    trust_remote_code: bool = False,
    progress=None,
    cancel=None,
):
    """Compute (or read from the cache) and write ``features.safetensors`` + ``stimuli.tsv`` into ``out``.

    Returns the :class:`core.features.dataset.StimulusFeatures`.
    """
    from core.export.atomic import atomic_output_dir
    from core.features.cache import save_features
    from core.features.dataset import dataset_features

    feats = dataset_features(
        None,
        model,
        paradigm,
        pooling,
        device=device,
        progress=progress,
        cancel=cancel,
        batch_size=batch_size,
        dtype=dtype,
        stimuli=stimuli,
        use_cache=use_cache,
        trust_remote_code=trust_remote_code,
    )
    frame = feats.keys.assign(text=feats.texts)
    with atomic_output_dir(out) as stage:
        meta = {
            "model_id": feats.model_id,
            "revision": feats.revision,
            "paradigm": paradigm,
            "pooling": pooling,
            "dtype": dtype,
            "stimuli": str(Path(stimuli).resolve()),
        }
        save_features(stage / "features.safetensors", feats.hidden, frame, meta)
        frame.to_csv(stage / "stimuli.tsv", sep="\t", index=False)
        (stage / "features.json").write_text(
            json.dumps({**meta, "shape": list(feats.hidden.shape), "layer_0": "embeddings"}, indent=2)
        )
    return feats
