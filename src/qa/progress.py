"""Progress bars with counts on stderr, for the long steps (indexing, evaluation)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

Bar = Callable[[int], None]  # told how many more items are done
OpenBar = Callable[[int, str], Bar]  # (total, label) -> a new bar


@contextmanager
def progress_bars(enabled: bool, *, unit: str) -> Iterator[OpenBar | None]:
    """Yields a function that opens one bar per step, or None when disabled."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    bars = []

    def open_bar(total: int, label: str) -> Bar:
        bars.append(tqdm(total=total, desc=label, unit=unit))
        return bars[-1].update

    try:
        yield open_bar
    finally:
        for bar in bars:
            bar.close()
