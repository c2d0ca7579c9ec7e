"""The command line's progress bar: a :data:`core.progress.ProgressFn` drawing tqdm on stderr."""

from __future__ import annotations

import sys


def tqdm_progress(desc: str):
    """A progress callback drawing a tqdm bar on stderr (only on a terminal, and only from the first
    report on); ``report.close()`` erases it, so an error message after it stays one clean line.

    Parameters
    ----------
    desc : the bar's label (e.g. the analysis name).

    Returns
    -------
    report(fraction, message="") with fraction in [0, 1], plus ``report.close()``.
    """
    from tqdm import tqdm

    bars = []

    def report(fraction: float, message: str = "") -> None:
        if not bars:
            bars.append(tqdm(total=1000, desc=desc, leave=False, file=sys.stderr, disable=None,
                             bar_format="{l_bar}{bar}| {postfix}"))
        bar = bars[0]
        bar.n = int(round(1000 * min(max(fraction, 0.0), 1.0)))
        bar.set_postfix_str(message[:60], refresh=False)
        bar.refresh()
        if fraction >= 1.0:
            bar.close()

    report.close = lambda: [bar.close() for bar in bars]
    return report
