"""The repository's own text: no absolute path of the machine it was written on, and the README's
short results table quotes benchmarks/results.md figure for figure.

Paths in the repository are relative to its root (the real data copy, for instance, is
``../shared/data/real_and_fake_face_160``); scratch folders come from ``tempfile`` or an argument.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# An absolute path under one of the usual home or work folders of a Linux or macOS machine. Not
# preceded by a word character, a dot, a slash, a tilde or a dollar sign, so that URLs, relative
# paths through a folder of the same name, and home-relative paths (~/..., $HOME/...) pass
# (test_the_pattern_tells_absolute_paths_from_the_rest has examples).
ABSOLUTE = re.compile(r"(?<![\w.~$/-])/(?:work|root|home|Users)/[^\s\"'`)\]>,;]*")

# (file, the path's start without its leading slash) -> why it may stay for now. Each entry
# covers that path prefix in that file only; anything else there still fails.
ALLOWED: dict[tuple[str, str], str] = {}  # (file, path start): why it may stay


def tracked_files() -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot list the tracked files")
    if not (ROOT / ".git").exists():
        pytest.skip(f"{ROOT} is not a git checkout (no .git): cannot list the tracked files")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=60)
    if out.returncode != 0:
        pytest.skip(f"git ls-files failed: {out.stderr.decode(errors='replace').strip()}")
    return [name for name in out.stdout.decode().split("\0") if name]


def text_of(path: Path) -> str | None:
    """The file's text, or None for a binary file or one that is not there (deleted, unstaged)."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def test_no_tracked_file_names_an_absolute_path_of_a_machine():
    found = []
    for name in tracked_files():
        text = text_of(ROOT / name)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for match in ABSOLUTE.finditer(line):
                path = match.group(0)
                if not any(name == file and path[1:].startswith(start) for file, start in ALLOWED):
                    found.append(f"{name}:{number}: {path}")
    assert not found, ("absolute paths of a machine (make them relative to the repository root, "
                       "or take them from tempfile or an argument):\n" + "\n".join(found))


def test_the_pattern_tells_absolute_paths_from_the_rest():
    flagged = ["/" + "home/ana/data", "--data /" + "work/x", '"/' + 'root/out/a.json"',
               "(/" + "Users/ana/x)"]
    passed = ["https://example.org/" + "home/x", "data/" + "root/x", "~/" + "work/x",
              "$HOME/" + "work/x", "../shared/data/real_and_fake_face_160", "/content/drive"]
    assert all(ABSOLUTE.search(text) for text in flagged)
    assert not any(ABSOLUTE.search(text) for text in passed)


# --- the README's short results table ----------------------------------------------------------

def markdown_table(lines: list[str], header_start: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the first table whose header line starts with ``header_start``."""
    begin = next((i for i, line in enumerate(lines) if line.startswith(header_start)), None)
    assert begin is not None, f"no table starting with {header_start!r}"
    cells = []
    for line in lines[begin:]:
        if not line.startswith("|"):
            break
        cells.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, rows = cells[0], [row for row in cells[1:] if not set("".join(row)) <= set("-: ")]
    assert all(len(row) == len(header) for row in rows), f"ragged table under {header_start!r}"
    return header, rows


def test_the_readme_results_quote_benchmarks_results_md():
    readme = (ROOT / "README.md").read_text()
    results = (ROOT / "benchmarks" / "results.md").read_text()
    lines = results.splitlines()
    all_runs = lines.index("## All runs on real photographs, seeds combined")
    full_header, full_rows = markdown_table(lines[all_runs:], "| run |")
    recorded = {row[0]: dict(zip(full_header, row)) for row in full_rows}

    header, rows = markdown_table(readme.splitlines(), "| notebook | run |")
    assert {"01", "02", "03a", "03b", "04"} <= {row[0] for row in rows}, "one row per chapter's model"
    quoted = [column for column in header if column not in ("notebook", "run")]
    assert "seeds" in quoted and set(quoted) <= set(full_header)
    for row in rows:
        cells = dict(zip(header, row))
        run = cells["run"]
        assert run in recorded, f"README's run {run!r} is not in results.md's table of all runs"
        for column in quoted:
            assert cells[column] == recorded[run][column], \
                f"README, {run}, {column}: {cells[column]!r}, results.md: {recorded[run][column]!r}"
    best = [row for row in rows if "best" in row[0]]
    assert len(best) == 1, "one best leak-free line"
    assert f"chosen on validation: {best[0][1]}**" in results, \
        "the README's best leak-free line is not the one results.md chose on validation"
