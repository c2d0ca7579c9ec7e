"""The study: a recipe (TOML) -> a graph of content-keyed tasks -> their execution on Dask, resumable."""
