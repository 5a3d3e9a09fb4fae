"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl into a temporary folder on a free
port, as the `postgres` OS user when the tests run as root (the server refuses to run as root).

It holds a login `owner` (no superuser) that owns a template database already migrated to the
latest schema; each test gets a fresh database copied from it (CREATE DATABASE ... TEMPLATE).
A thread copies the next few ahead while the tests run and drops the used ones, so that a test
does not wait for its copy (10 ms of server work in memory, up to a quarter of a second on a busy
disk; some 180 tests a run take one).
"""

from __future__ import annotations

import base64
import glob
import hashlib
import hmac
import itertools
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

OWNER, OWNER_PASSWORD = "owner", "s3cret-pw"
TEMPLATE = "leadshare_template"
AHEAD = 5  # copies kept ready, enough for a run of quick tests while the thread catches up


def binaries() -> str | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(found))
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(folder, "initdb")):
            return folder
    return None


def scram_verifier(password: str, iterations: int = 1) -> str:
    """What CREATE ROLE ... PASSWORD stores for `password` (SCRAM-SHA-256), hashed `iterations`
    times instead of the server's 4096: the server still refuses any other password, and each of
    the suite's thousand or so connections costs 3 ms instead of 7 (both ends hash them)."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"


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
    _admin: object = None
    _ahead: Ahead | None = None

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

        try:
            self._admin_conn().execute(sql)
        except psycopg.OperationalError:  # the server restarted since (a test restarts it): once more
            self._admin = None
            self._admin_conn().execute(sql)

    def _admin_conn(self):
        if self._admin is None or self._admin.closed:
            self._admin = self.connect()
        return self._admin

    def connect(self):
        import psycopg

        return psycopg.connect(host=self.folder, port=self.port, user="postgres", dbname="postgres", autocommit=True)

    def url(self, database: str, password: str = OWNER_PASSWORD) -> str:
        return f"postgresql://{OWNER}:{password}@127.0.0.1:{self.port}/{database}"

    def prepare(self) -> None:
        from leadshare.ledger import open_ledger

        self.admin(f"CREATE ROLE {OWNER} LOGIN PASSWORD '{scram_verifier(OWNER_PASSWORD)}' NOSUPERUSER NOCREATEDB NOCREATEROLE")
        self.admin(f"CREATE DATABASE {TEMPLATE} OWNER {OWNER}")
        open_ledger(self.url(TEMPLATE)).close()

    def new_database(self, migrated: bool = True) -> str:
        """A fresh database: a copy of the migrated template, or (not migrated) an empty one."""
        return self._ahead.take() if migrated else self.create_database("template0")

    def create_database(self, template: str, conn=None) -> str:
        name = f"t{os.getpid()}_{next(self._names)}"
        sql = f"CREATE DATABASE {name} OWNER {OWNER} TEMPLATE {template} STRATEGY FILE_COPY"
        if conn is None:
            self.admin(sql)
        else:
            conn.execute(sql)
        return name

    def drop_database(self, name: str) -> None:
        self._ahead.drop(name)

    def copy_ahead(self) -> None:
        self._ahead = Ahead(self)

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.stop()
            self._ahead = None
        if self._admin is not None:
            self._admin.close()
            self._admin = None


class Ahead:
    """Fresh copies of the template made ahead by a thread with its own connection, which also
    drops the used ones; after a server restart it connects again."""

    def __init__(self, server: Server):
        self.server = server
        self.ready: queue.Queue[str] = queue.Queue()
        self.used: queue.Queue[str] = queue.Queue()
        self.wake = threading.Event()
        self.stopping = False
        self.failure: Exception | None = None
        self.thread = threading.Thread(target=self._run, name="pgserver: databases ahead", daemon=True)
        self.thread.start()

    def take(self) -> str:
        self.wake.set()
        try:
            return self.ready.get(timeout=60)
        except queue.Empty:
            raise RuntimeError(f"no database copied from the template within a minute: {self.failure!r}") from None
        finally:
            self.wake.set()  # one more to copy

    def drop(self, name: str) -> None:
        self.used.put(name)
        self.wake.set()

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join()

    def _run(self) -> None:
        conn = None
        while not self.stopping:
            try:
                conn = conn if conn is not None and not conn.closed else self.server.connect()
                if not self._work(conn):
                    self.wake.wait()
                    self.wake.clear()
            except Exception as exc:  # the server restarting: connect again a moment later
                self.failure = exc
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()

    def _work(self, conn) -> bool:
        """Copy one database or drop one, whichever is due first; False when nothing is."""
        if self.ready.qsize() < AHEAD:
            self.ready.put(self.server.create_database(TEMPLATE, conn))
            return True
        try:
            name = self.used.get_nowait()
        except queue.Empty:
            return False
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        return True


IN_MEMORY, IN_MEMORY_ROOM = "/dev/shm", 2 << 30


def _server_folder() -> str:
    """A new folder for a server's files: in memory when /dev/shm has room, else the usual
    temporary folder. A database is some 300 files; on a disk whose file system has seen many
    files deleted (a machine running test suites), creating them took 250 ms, in memory 10."""
    try:
        stats = os.statvfs(IN_MEMORY)
        roomy = stats.f_bavail * stats.f_frsize >= IN_MEMORY_ROOM
    except OSError:
        roomy = False
    return tempfile.mkdtemp(prefix="leadshare-pg-", dir=IN_MEMORY if roomy else None)


def start_server() -> Server:
    bindir = binaries()
    assert bindir is not None
    folder = _server_folder()
    os.chmod(folder, 0o755)
    server = Server(bindir, folder)
    try:
        server.start()
        server.prepare()
        server.copy_ahead()
    except BaseException:
        remove_server(server)
        raise
    return server


def remove_server(server: Server) -> None:
    server.close()
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass  # never started, or already gone
    shutil.rmtree(server.folder, ignore_errors=True)
