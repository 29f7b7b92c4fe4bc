"""Print the CPU seconds a process and all its descendants have used so far.

    python /workspace/loadtest/cputime.py PID

Run it before and after a load test: the difference divided by the requests sent is the CPU
each request costs (uvicorn's worker processes included)."""

import os
import sys
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> dict[int, list[int]]:
    """Each live process's children, from /proc."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def cpu_seconds(pid: int, tree: dict[int, list[int]]) -> float:
    """utime + stime of ``pid`` and its descendants, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / TICKS
    return own + sum(cpu_seconds(child, tree) for child in tree.get(pid, []))


if __name__ == "__main__":
    root = int(sys.argv[1])
    print(f"{cpu_seconds(root, children(root)):.2f}")
