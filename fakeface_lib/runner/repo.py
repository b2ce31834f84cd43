"""Which checkout the runner works in: found from the current folder (or a --repo given), never
from where the package is installed (site-packages holds no notebooks)."""

from __future__ import annotations

from pathlib import Path

SERIES_PATTERN = "[0-9][0-9]*_*.ipynb"  # the numbered notebooks of the series: 00_*, 01_* ... 03a_*, 03b_*


def find_repo(start: str | Path | None = None) -> Path:
    """``start`` (default: the current folder) or the nearest folder above it whose notebooks/
    holds the series' numbered notebooks.

    Raises FileNotFoundError, naming the fix, when there is none (run it in a clone).
    """
    here = Path(start if start is not None else Path.cwd()).expanduser().resolve()
    for folder in (here, *here.parents):
        if any((folder / "notebooks").glob(SERIES_PATTERN)):
            return folder
    raise FileNotFoundError(
        f"no notebooks/00_*.ipynb in {here} or any folder above it: run the runner inside a clone "
        "of the repository (git clone ...; pip install -e .), or name it with --repo")
