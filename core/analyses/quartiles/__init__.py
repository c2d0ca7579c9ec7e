"""Quartile decoupling: an ROI's voxels in 4 x 4 cells of consistency x language response.

Stack: ``cells`` (bins, cell codes and their decoding, cell statistics) -> ``encoding`` (encoding
performance per cell with one layer/pooling choice per ROI).
"""

from core.analyses import lazy_api

__all__, __getattr__, __dir__ = lazy_api(__name__, {
    "cells": ("N_BINS", "cell_labels", "cell_means", "quartile_cells", "quartile_stats"),
    "encoding": ("quartile_encoding", "roi_of_cell"),
})
