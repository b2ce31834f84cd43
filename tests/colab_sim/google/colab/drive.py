"""Stand-in for ``google.colab.drive``: "mounts" a local folder as MyDrive and counts what is written to it.

Google Drive keeps every replaced or deleted file in its Trash, where it still counts against the
quota; so every version of every file written here counts. An audit hook records the bytes in
``$FAKEFACE_SIM_LEDGER``, one line per event: ``count<TAB>bytes<TAB>path`` for a finished version,
``pending<TAB>0<TAB>path`` for a file opened for writing whose final size is read at the end,
``done<TAB>0<TAB>path`` when such a file was counted (renamed, rewritten or deleted).
"""

from __future__ import annotations

import os
import sys

_state: dict = {}


def mount(mountpoint: str, force_remount: bool = False, timeout_ms: int = 120000,
          readonly: bool = False) -> None:
    if os.environ.get("FAKEFACE_SIM_DECLINE"):
        raise ValueError("mount failed: the user declined access to Google Drive")
    drive = os.environ["FAKEFACE_SIM_DRIVE"]
    os.makedirs(mountpoint, exist_ok=True)
    link = os.path.join(mountpoint, "MyDrive")
    if not os.path.lexists(link):
        os.symlink(drive, link)
    if not _state:
        _state.update(root=os.path.realpath(drive) + os.sep, pending=set(),
                      ledger=os.environ["FAKEFACE_SIM_LEDGER"])
        sys.addaudithook(_hook)
    print(f"Mounted at {mountpoint}")


def _on_drive(path) -> str | None:
    if isinstance(path, int) or path is None:
        return None
    try:
        full = os.path.realpath(os.path.abspath(os.fsdecode(path)))
    except (TypeError, ValueError):
        return None
    return full if full.startswith(_state["root"]) else None


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _log(kind: str, size: int, path: str) -> None:
    with open(_state["ledger"], "a", encoding="utf-8") as ledger:
        ledger.write(f"{kind}\t{size}\t{path}\n")


def _finish(path: str) -> None:
    """A file written in place is complete: count its bytes once."""
    if path in _state["pending"]:
        _state["pending"].discard(path)
        _log("count", _size(path), path)
        _log("done", 0, path)


def _hook(event: str, args: tuple) -> None:
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else \
            bool((flags or 0) & (os.O_WRONLY | os.O_RDWR))
        full = _on_drive(path) if writing else None
        if full:
            _finish(full)  # its previous version, if we saw it written
            _state["pending"].add(full)
            _log("pending", 0, full)
    elif event == "os.rename":
        src, dst = _on_drive(args[0]), _on_drive(args[1])
        if dst:
            _finish(dst)
            if src in _state["pending"]:
                _state["pending"].discard(src)
                _log("done", 0, src)
            _log("count", _size(os.fsdecode(args[0])), dst)
    elif event == "os.remove":
        full = _on_drive(args[0])
        if full:
            _finish(full)
