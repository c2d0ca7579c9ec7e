"""Quartile decoupling: an ROI's voxels in 4 x 4 cells of consistency x language response.

Stack: ``cells`` (bins, cell codes and their decoding, cell statistics) -> ``participant`` (one
participant's cells from C and the language localizer) -> ``encoding`` (encoding performance per cell
with one layer/pooling choice per ROI).
"""

from core.analyses import lazy_api

__all__, __getattr__, __dir__ = lazy_api(__name__, {
    "cells": ("N_BINS", "cell_labels", "cell_means", "decode_cells", "encode_cells", "quartile_cells",
              "quartile_stats"),
    "participant": ("participant_cells",),
    "encoding": ("CELL_COLUMNS", "CHOICE_COLUMNS", "average_over_models", "cell_predictivity",
                 "quartile_encoding", "roi_choice_table", "roi_of_cell"),
})
