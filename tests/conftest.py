"""A harness that runs the real daemon as a subprocess on temporary folders and talks to it
over its real Unix socket."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sp404d.control.client import Client
from sp404d.errors import DaemonNotRunning


# What tests/test_installed.py found (the wheel built, installed into a fresh venv, the daemon run
# from it), printed at the end of the run so a CI log shows it.
INSTALLED_CHECK: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if INSTALLED_CHECK:
        terminalreporter.section("the installed package (tests/test_installed.py)")
        for line in INSTALLED_CHECK:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def installed_check() -> list[str]:
    """Lines for the summary above (a fixture, so the tests append to this module's own list)."""
    return INSTALLED_CHECK


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class DaemonEnv:
    def __init__(self, root: Path, **watch):
        self.root = root
        self.drop = root / "drop"
        self.library = root / "lib" / "library.db"
        self.socket = root / "run" / "sp404d.sock"
        self.config = root / "sp404d.toml"
        self.log = root / "daemon.log"
        settle = watch.get("settle_seconds", 0.4)
        self.config.write_text(
            f'[library]\npath = "{self.library}"\n'
            f'[watch]\nfolders = ["{self.drop}"]\nsettle_seconds = {settle}\nrescan_minutes = 0\n'
            f'observer = "{watch.get("observer", "auto")}"\npoll_seconds = 0.5\n'
            f'[analysis]\nworkers = 2\ntimeout_seconds = 30\n'
            f'[control]\nsocket = "{self.socket}"\n')
        self.proc: subprocess.Popen | None = None
        self.env = {**os.environ, "SP404D_CONFIG": str(self.config), "PYTHONUNBUFFERED": "1"}

    def start(self, wait: bool = True) -> subprocess.Popen:
        log = open(self.log, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "sp404d", "run"], stdout=log, stderr=log, env=self.env)
        if wait:
            wait_until(self.answers, 60, what="daemon to answer on its socket")
        return self.proc

    def answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            with Client(self.socket, timeout=2) as c:
                return c.request("status")["state"] != "starting"
        except (DaemonNotRunning, OSError):
            return False

    def request(self, cmd: str, **args) -> dict:
        with Client(self.socket, timeout=10) as c:
            return c.request(cmd, **args)

    def status(self) -> dict:
        return self.request("status")

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sp404d", *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout)

    def stop(self, sig=signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def wait_idle(self, files: int, timeout: float = 120) -> dict:
        """Until every one of `files` is recorded or failed and the daemon has nothing pending."""
        def done():
            s = self.status()
            t = s["totals"]
            return s if s["state"] == "idle" and t["locations"] + t["failed"] >= files else None
        return wait_until(done, timeout, interval=0.25, what=f"{files} files recorded")

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.library}?mode=ro", uri=True)

    def rows(self, sql: str, params: tuple = ()) -> list:
        with self.db() as conn:
            return conn.execute(sql, params).fetchall()

    def locations(self) -> int:
        """Files recorded so far; 0 while the library file or its tables are still being made."""
        try:
            return self.rows("SELECT COUNT(*) FROM location")[0][0] if self.library.exists() else 0
        except sqlite3.OperationalError:  # the file exists a moment before its schema does
            return 0


@pytest.fixture
def daemon_env():
    # a short path of our own (0700), so the socket path stays under the 108-byte limit
    root = Path(tempfile.mkdtemp(prefix="sp4-"))
    env = DaemonEnv(root)
    try:
        yield env
    finally:
        if env.proc is not None and env.proc.poll() is None:
            env.proc.kill()
            env.proc.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def card(tmp_path):
    """A real FAT32 card image (not yet mounted); pulled at the end if a test left it mounted."""
    from fixtures import card as fat

    c = fat.FatCard(tmp_path / "cardspace")
    yield c
    if c.proc is not None:
        c.pull()
