"""A progress bar on stderr while ``mc-bench`` runs (ResNet101 runs take minutes on a CPU)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def progress_bar(total: int) -> Iterator[Callable[[str], None]]:
    """Yields ``step(description)``, which advances the bar by one and shows what is running."""
    progress = Progress(
        TextColumn("{task.description:<36}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task("mc-bench", total=total)

        def step(description: str) -> None:
            progress.update(task, advance=1, description=description)

        yield step
