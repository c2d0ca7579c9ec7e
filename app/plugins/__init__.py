"""Analysis plugins: contract (:mod:`.base`), discovery (:mod:`.registry`), running (:mod:`.runner`).
Qt-free, so the CLI runs them without a display."""
