"""The course map (README and each notebook's header) says what benchmarks/course_map.py computed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("course_map", ROOT / "benchmarks" / "course_map.py")
course_map = importlib.util.module_from_spec(spec)
spec.loader.exec_module(course_map)
ROWS = json.loads((ROOT / "benchmarks" / "results" / "course_map.json").read_text())


def test_the_map_covers_the_series_and_follows_its_inputs():
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
    assert [row["notebook"] for row in ROWS] == notebooks
    assert ROWS == course_map.course_map(), "rerun python benchmarks/course_map.py"


def test_readme_holds_the_course_map():
    readme = (ROOT / "README.md").read_text()
    assert f"{course_map.START}\n{course_map.readme_table(ROWS)}\n{course_map.END}" in readme


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row["notebook"])
def test_each_notebook_header_gives_time_gpu_and_drive_use(row):
    header = nbformat.read(ROOT / "notebooks" / f"{row['notebook']}.ipynb", as_version=4).cells[0].source
    assert course_map.header_line(row) in header
    assert "asks once for access to your Google Drive" in header and "if you decline" in header
