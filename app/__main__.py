"""``python -m app`` / ``cbstudio`` entry: the CLI (:mod:`app.cli`); with no sub-command, the GUI.

Only the standard library is imported here, so ``cbstudio --help`` stays fast. The demo dataset service
lives in :mod:`core.demo.cache`; ``default_demo_path`` and ``ensure_demo`` are re-exported for callers
that still import them from here.
"""

from __future__ import annotations

import sys

from core.demo.cache import default_demo_path, ensure_demo

__all__ = ["default_demo_path", "ensure_demo", "main"]


def main() -> int:
    from app.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
