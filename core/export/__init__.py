"""Writing results: atomic output folders, per-kind writers, provenance."""
