"""The synthetic demo dataset with planted truth (``cbstudio demo``, the GUI's first start).

It sits above every layer it uses (data, features, atlas, export), so nothing below it may import it:

- :mod:`core.demo.synthetic`: ``make_demo(out, ...)`` writes a native dataset with planted truth;
- :mod:`core.demo.maps`: the cortex mask, the planted regions and the language maps;
- :mod:`core.demo.features`: the MiniLM stimulus features the LM signal is planted from (shipped or cached);
- :mod:`core.demo.cache`: where the demo lives in the user cache, generated on first use.

Nothing here is imported at package import time.
"""
