"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl into a temporary folder on a free
port, as the `postgres` OS user when the tests run as root (the server refuses to run as root).

It holds a login `owner` (no superuser) that owns a template database already migrated to the
latest schema; each test gets a fresh database copied from it (CREATE DATABASE ... TEMPLATE).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field

OWNER, OWNER_PASSWORD = "owner", "s3cret-pw"
TEMPLATE = "leadshare_template"


def binaries() -> str | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(found))
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(folder, "initdb")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    bindir: str
    folder: str
    port: int = field(default_factory=_free_port)
    _names: itertools.count = field(default_factory=itertools.count)

    @property
    def data(self) -> str:
        return os.path.join(self.folder, "data")

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, text=True, cwd=self.folder)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        if not os.path.exists(self.data):
            self._run(os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres", "--no-sync", "-E", "UTF8",
                      "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256")
        self.pg_ctl("start", "-w", "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off")

    def restart(self) -> None:
        self.pg_ctl("restart", "-m", "fast", "-w")

    def pg_ctl(self, *args: str) -> None:
        # the server's output goes to its log: a server holding our pipe open would hang run()
        self._run(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.folder, "log"), *args)

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "immediate")

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=self.folder, port=self.port, user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)

    def url(self, database: str, password: str = OWNER_PASSWORD) -> str:
        return f"postgresql://{OWNER}:{password}@127.0.0.1:{self.port}/{database}"

    def prepare(self) -> None:
        from leadshare.ledger import open_ledger

        self.admin(f"CREATE ROLE {OWNER} LOGIN PASSWORD '{OWNER_PASSWORD}' NOSUPERUSER NOCREATEDB NOCREATEROLE")
        self.admin(f"CREATE DATABASE {TEMPLATE} OWNER {OWNER}")
        open_ledger(self.url(TEMPLATE)).close()

    def new_database(self, migrated: bool = True) -> str:
        name = f"t{os.getpid()}_{next(self._names)}"
        template = TEMPLATE if migrated else "template0"
        self.admin(f"CREATE DATABASE {name} OWNER {OWNER} TEMPLATE {template} STRATEGY FILE_COPY")
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_server() -> Server:
    bindir = binaries()
    assert bindir is not None
    folder = tempfile.mkdtemp(prefix="leadshare-pg-")
    os.chmod(folder, 0o755)
    server = Server(bindir, folder)
    try:
        server.start()
        server.prepare()
    except BaseException:
        remove_server(server)
        raise
    return server


def remove_server(server: Server) -> None:
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass  # never started, or already gone
    shutil.rmtree(server.folder, ignore_errors=True)
