"""Other processes as /proc shows them: a server's children (uvicorn's workers, its pool
processes) and whether one still runs. Linux only, as the tests and benchmarks that use it."""

from pathlib import Path


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == pid:
            children.append(int(stat.parent.name))
    return children


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
