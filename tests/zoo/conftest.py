"""Fixtures of the rl-zoo integration tests: a real PostgreSQL server for the distributed Optuna search.

The server is started once per test session (``initdb`` + ``pg_ctl`` in a temporary folder, on a free localhost
port, as the ``postgres`` user when the tests run as root, since PostgreSQL refuses to run as root) and removed at
the end. Missing server binaries FAIL the tests that need it (CI must run them): install them with
``apt-get install -y postgresql`` (Debian puts them in ``/usr/lib/postgresql/<version>/bin``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from zoo_helpers import free_port


# ---------------------------------------------------------------------- the zoo's tables
@pytest.fixture
def zoo_registered() -> Iterator[None]:
    """PPOG in the zoo's tables for one test, removed afterwards (the zoo is left as the test found it)."""
    from ppog_sb3.zoo.registry import registered

    with registered():
        yield


# ---------------------------------------------------------------------- PostgreSQL
def find_postgres_bindir() -> Path | None:
    """The folder with initdb, pg_ctl and postgres: on PATH, else the newest /usr/lib/postgresql/<v>/bin."""
    names = ("initdb", "pg_ctl", "postgres")
    found = [shutil.which(name) for name in names]
    if all(found):
        folders = {Path(os.path.realpath(path)).parent for path in found if path}
        if len(folders) == 1:
            return folders.pop()
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0
    )
    for folder in reversed(candidates):
        if all((Path(folder) / name).exists() for name in names):
            return Path(folder)
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh database on a PostgreSQL server started for this test session (FAILS if none can start)."""
    bindir = find_postgres_bindir()
    if bindir is None:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH nor in /usr/lib/postgresql/*/bin: "
            "install them (Debian/Ubuntu: apt-get install -y postgresql). The distributed-search tests must run.",
            pytrace=False,
        )
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="ppog-zoo-pg-"))
    if as_root:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(tmp, ignore_errors=True)
            pytest.fail(
                "running as root but there is no 'postgres' user to run the server as (PostgreSQL refuses root): "
                "install the postgresql package (it creates the user) or run the tests as another user",
                pytrace=False,
            )
        os.chown(tmp, user.pw_uid, user.pw_gid)
        runuser = shutil.which("runuser")
        prefix = [runuser, "-u", "postgres", "--"] if runuser else ["su", "postgres", "-s", "/bin/sh", "-c"]
    data, log = tmp / "data", tmp / "server.log"
    port = free_port()

    def run(*cmd: str) -> subprocess.CompletedProcess:
        full = [*prefix, shlex.join(cmd)] if prefix[:1] == ["su"] else [*prefix, *cmd]
        return subprocess.run(full, capture_output=True, text=True, timeout=120)

    def fail(step: str, proc: subprocess.CompletedProcess) -> None:
        server_log = log.read_text() if log.exists() else ""
        shutil.rmtree(tmp, ignore_errors=True)
        message = f"PostgreSQL {step} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n{server_log}"
        pytest.fail(message, pytrace=False)

    proc = run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
    if proc.returncode != 0:
        fail("initdb", proc)
    options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
    proc = run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start")
    if proc.returncode != 0:
        fail("start", proc)
    try:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn.cursor() as cursor:
            cursor.execute("CREATE DATABASE optuna_zoo")
        conn.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/optuna_zoo"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(tmp, ignore_errors=True)
