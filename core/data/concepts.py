"""The 180 concepts of Pereira et al. (2018) Experiment 1, in the paper's order (resources/concepts.txt)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from core.names import PARADIGMS  # noqa: F401 - re-exported: the implementing module's names

# Spellings seen in stimulus files that name the same concept.
CONCEPT_ALIASES = {"count": "Counting"}


@lru_cache(maxsize=1)
def load_concepts() -> tuple[str, ...]:
    """The 180 concept names, capitalised, in the paper's order."""
    text = resources.files("resources").joinpath("concepts.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@lru_cache(maxsize=1)
def _by_lower() -> dict[str, str]:
    table = {c.lower(): c for c in load_concepts()}
    table.update(CONCEPT_ALIASES)
    return table


def canonical_concept(name: str) -> str | None:
    """The canonical spelling of a concept name (case-insensitive), or None if it is not one of the 180."""
    return _by_lower().get(str(name).strip().lower())
