"""Run a long command, pass on the lines that show its progress, and stop it when it runs far longer than it should.

``init`` runs the project's own sessions this way: nox's lines and
pytest's counts are shown as they come, a heartbeat names what is running
when nothing has been shown for a while, and a run past its deadline is
stopped with the test that was running (pytest ``-v`` prints a test's node
id before it runs it).
"""

from __future__ import annotations

import codecs
import collections
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

KEPT = 200  # the last lines of the output, shown when the command fails


@dataclass(frozen=True)
class Watched:
    """How a watched command ended: its exit status, its last lines, and what ran when it was stopped (if it was)."""

    status: int
    lines: tuple[str, ...]
    stopped: bool = False
    running: str = ""


def run(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    out: Callable[[str], None],
    shown: Callable[[str], bool],
    deadline: Callable[[str], float | None],
    heartbeat: float = 30.0,
) -> Watched:
    """Run `command`, its stderr with its stdout, and pass the lines `shown` accepts to `out` as they come.

    `deadline` sees every line; a number it returns is a limit in seconds
    from then (the last one given wins): past it the command and its
    children are stopped. When `heartbeat` seconds go by without a shown
    line, `out` hears what is running and for how long.
    """
    with subprocess.Popen(
        list(command), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=os.name != "nt",
    ) as process:  # fmt: skip
        assert process.stdout is not None  # stdout=PIPE
        chunks: queue.Queue[bytes] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(process.stdout, chunks), daemon=True)
        reader.start()
        watched = _watch(process, chunks, out, shown, deadline, heartbeat)
        reader.join(timeout=10)  # a grandchild that escaped the group may hold the pipe open
    return watched


def _watch(
    process: subprocess.Popen[bytes],
    chunks: queue.Queue[bytes],
    out: Callable[[str], None],
    shown: Callable[[str], bool],
    deadline: Callable[[str], float | None],
    heartbeat: float,
) -> Watched:
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    lines: collections.deque[str] = collections.deque(maxlen=KEPT)
    partial = ""
    started = quiet_since = time.monotonic()
    limit: float | None = None
    while True:
        waits = [heartbeat - (time.monotonic() - quiet_since)] + (
            [limit - time.monotonic()] if limit is not None else []
        )
        try:
            chunk: bytes | None = chunks.get(timeout=max(min(waits), 0.01))
        except queue.Empty:
            chunk = None
        if chunk == b"":
            break
        now = time.monotonic()
        if chunk:
            *complete, partial = (partial + decoder.decode(chunk)).split("\n")
            for line in complete:
                lines.append(line)
                if shown(line):
                    out("  " + line)
                    quiet_since = now
                seconds = deadline(line)
                limit = now + seconds if seconds is not None else limit
        if limit is not None and now >= limit:
            _stop(process)
            return Watched(process.wait(), tuple(lines), stopped=True, running=running(partial, lines))
        if now - quiet_since >= heartbeat:
            what = running(partial, lines)
            out(f"  ... {what or 'running'} (still running after {now - started:.0f} s)")
            quiet_since = now
    return Watched(process.wait(), tuple(lines))


def running(partial: str, lines: Sequence[str]) -> str:
    """Return the test that is running: the node id pytest ``-v`` printed last (a started test's line is unfinished)."""
    for line in [partial, *reversed(lines)]:
        words = [word for word in line.split() if "::" in word]
        if words:
            return words[0]
    return ""


def _pump(stream: IO[bytes], chunks: queue.Queue[bytes]) -> None:
    # Reads what arrives, unfinished lines included: a running test's node id has no newline yet.
    while chunk := os.read(stream.fileno(), 65536):
        chunks.put(chunk)
    chunks.put(b"")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The whole process group: nox, and the pytest it started.
    if os.name == "nt":  # pragma: no cover - no process groups there
        process.kill()
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a test that ignores SIGTERM
        os.killpg(process.pid, signal.SIGKILL)
