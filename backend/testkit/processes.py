"""Other processes as /proc shows them: a server's children (uvicorn's workers, its pool
processes) and whether one still runs. Linux only, as the tests and benchmarks that use it."""

import subprocess
from collections.abc import Mapping
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


COVERAGE_VARIABLES = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


def unmeasured(environment: Mapping[str, str]) -> dict[str, str]:
    """The environment without what makes coverage measure a Python child process. For a
    server that is only the stage of a test (the page's, the client's): its app code is what
    the in-process tests measure, and measuring it again made each start 1.4 s slower and each
    request slower too. The tests of the process itself (tests/service) keep it measured."""
    return {name: value for name, value in environment.items() if name not in COVERAGE_VARIABLES}


def terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Ask the process to stop (SIGTERM); kill it if it has not within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
