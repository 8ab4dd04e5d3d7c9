"""Running as a service: the sd_notify protocol on a real datagram socket, the systemd unit, and
the launchd agent."""

from __future__ import annotations

import plistlib
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[1]


def test_the_daemon_speaks_sd_notify(daemon_env, tmp_path):
    """READY=1 once serving, STATUS= lines, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 on SIGTERM."""
    env = daemon_env
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(env.root / "notify.sock")
    listener.bind(path)
    listener.settimeout(0.2)
    env.env.update(NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
    proc = env.start(wait=False)
    messages: list[str] = []

    def received(what: str):
        try:
            messages.extend(listener.recv(4096).decode().split("\n"))
        except socket.timeout:
            pass
        return any(m.startswith(what) for m in messages)

    wait_until(lambda: received("READY=1"), 60, interval=0, what="READY=1")
    assert env.answers()  # READY comes when the socket already serves
    assert f"MAINPID={proc.pid}" in messages
    messages.clear()
    wait_until(lambda: received("WATCHDOG=1") and messages.count("WATCHDOG=1") >= 3, 10, interval=0,
               what="three watchdog pings")
    wait_until(lambda: received("STATUS="), 10, interval=0, what="a STATUS line")
    assert any(m.startswith("STATUS=idle") or m.startswith("STATUS=watching") for m in messages)
    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: received("STOPPING=1"), 20, interval=0, what="STOPPING=1")
    assert proc.wait(20) == 0
    env.proc = None
    listener.close()


def test_no_watchdog_pings_unless_asked():
    code = ("import os; from sp404d.notify import watchdog_interval as w; "
            "os.environ['WATCHDOG_USEC']='2000000'; a=w(); os.environ['WATCHDOG_PID']='1'; b=w(); "
            "del os.environ['WATCHDOG_USEC']; print(a, b, w())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    assert out == ["1.0", "None", "None"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_the_systemd_unit_verifies(tmp_path):
    unit = (ROOT / "systemd" / "sp404d.service").read_text()
    for line in ("Type=notify", "Restart=on-failure", "RuntimeDirectory=sp404d", "WatchdogSec="):
        assert line in unit
    # verify needs an executable that exists here: the installed entry point (or python itself)
    exe = shutil.which("sp404d") or sys.executable
    (tmp_path / "sp404d.service").write_text(unit.replace("%h/.local/bin/sp404d", exe))
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "sp404d.service")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr


def test_the_launchd_agent_is_a_valid_plist_that_logs_to_library_logs():
    raw = (ROOT / "launchd" / "com.sp404d.agent.plist").read_bytes()
    agent = plistlib.loads(raw)
    assert plistlib.loads(plistlib.dumps(agent)) == agent
    assert agent["RunAtLoad"] and agent["StartOnMount"]
    assert agent["KeepAlive"] == {"SuccessfulExit": False}  # restarted on failure; `sp404d stop` sticks
    assert agent["ProgramArguments"][1:] == ["run"]
    installed = plistlib.loads(raw.replace(b"__HOME__", b"/Users/you").replace(b"__SP404D__", b"/usr/local/bin/sp404d"))
    assert installed["StandardOutPath"] == installed["StandardErrorPath"] == "/Users/you/Library/Logs/sp404d/sp404d.log"
    assert installed["ProgramArguments"][0] == "/usr/local/bin/sp404d"
