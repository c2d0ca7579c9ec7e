"""Whole-brain comparison: encoding performance against semantic consistency over atlas areas.

Stack: ``comparison`` (probabilistic map, area consistency and predictivity, their correlation) ->
``language_network`` (the language parcels' areas, Fig. 13).
"""

from core.analyses import lazy_api

__all__, __getattr__, __dir__ = lazy_api(__name__, {
    "comparison": ("area_predictivity", "map_area_means", "paper_area_consistency", "probabilistic_voxels",
                   "probabilistic_volume", "raw_area_c", "raw_area_c_of_run", "results_area_consistency",
                   "wholebrain_correlation", "wholebrain_table"),
    "language_network": ("assign_areas", "language_network_summary", "language_network_table"),
})
