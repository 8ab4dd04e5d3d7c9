"""A `sp404d status --follow` transcript of a real drop (not a test; it writes a transcript and
prints figures).

    python tests/bench/follow_transcript.py OUT_DIR [--files 500] [--workers 2] [--settle 1.0]

A real daemon (`python -m sp404d run`, temporary config) watches a temporary folder; `status
--follow` runs in a pseudo-terminal (120x30); after 2 s, FILES generated distinct one-shot WAVs are
copied into the watched folder. Once the library holds them all and the daemon is idle, the
follower is stopped with Ctrl-C and the daemon with SIGTERM.

Writes OUT_DIR/follow.raw (the bytes the terminal got: `cat` it to replay the last frame) and
OUT_DIR/follow.txt (each distinct line as it appeared, with the seconds since the copy began).
Prints the lines showing the total, a filling bar with rate and ETA, the final summary, and how
long after the last file was recorded (the daemon's last `progress` event) the display said idle.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from fixtures.audio import hit, write  # noqa: E402
from sp404d.control.client import Client  # noqa: E402

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def start_follower(env: dict, cols: int = 120, rows: int = 30) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(env)
        os.execvp(sys.executable, [sys.executable, "-m", "sp404d", "status", "--follow"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return pid, fd


def read_pty(fd: int, chunks: list, stop: threading.Event) -> None:
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append((time.time(), data))


def listen(socket: Path, last_progress: list, stop: threading.Event) -> None:
    """The time of the daemon's last `progress` event: when the last files were recorded."""
    with Client(socket) as c:
        for event in c.events():
            if event["event"] == "progress" and event["recorded"] + event["failed"]:
                last_progress.append(time.time())
            if stop.is_set():
                return


def lines_of(chunks: list, t0: float) -> list[tuple[float, str]]:
    """Every line the terminal was shown, once (a redraw of the same line is left out), with the
    seconds from t0 to the moment it was complete."""
    out, recent, pending = [], [], b""
    for t, data in chunks:
        pieces = re.split(rb"[\r\n]+", pending + data)
        pending = pieces.pop()  # not yet ended
        for piece in pieces:
            line = ANSI.sub(b"", piece).decode("utf-8", "replace").rstrip()
            if line and line not in recent:
                out.append((t - t0, line))
                recent = (recent + [line])[-6:]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--settle", type=float, default=1.0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="sp4-follow-"))
    drop, socket = root / "drop", root / "run" / "s.sock"
    cfg = root / "sp404d.toml"
    cfg.write_text(f'[library]\npath = "{root}/lib/library.db"\n'
                   f'[watch]\nfolders = ["{drop}"]\nsettle_seconds = {args.settle}\nrescan_minutes = 0\n'
                   f'[analysis]\nworkers = {args.workers}\n[control]\nsocket = "{socket}"\n')
    env = {**os.environ, "SP404D_CONFIG": str(cfg), "PYTHONUNBUFFERED": "1", "TERM": "xterm-256color",
           "COLUMNS": "120", "LINES": "30"}
    src = root / "src" / "Pack"
    for i in range(args.files):  # distinct sounds: every file is analysed, none is a duplicate
        write(src / f"hit_{i:04d}.wav", hit(10_000 + i, 0.25 + (i % 7) * 0.05))
    daemon = subprocess.Popen([sys.executable, "-m", "sp404d", "run"], env=env,
                              stdout=open(root / "daemon.log", "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(socket, timeout=2) as c:
                    if c.request("status")["state"] == "idle":
                        break
            except Exception:
                pass
            if time.monotonic() > deadline:
                sys.exit("the daemon did not start: " + (root / "daemon.log").read_text()[-2000:])
            time.sleep(0.2)
        stop = threading.Event()
        chunks: list = []
        last_progress: list = []
        threading.Thread(target=listen, args=(socket, last_progress, stop), daemon=True).start()
        pid, fd = start_follower(env)
        reader = threading.Thread(target=read_pty, args=(fd, chunks, stop), daemon=True)
        reader.start()
        time.sleep(2)
        t0 = time.time()
        shutil.copytree(src, drop / "Pack")
        copied = time.time() - t0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with Client(socket) as c:
                s = c.request("status")
            if s["state"] == "idle" and s["totals"]["locations"] + s["totals"]["failed"] >= args.files:
                break
            time.sleep(0.2)
        time.sleep(3)
        os.kill(pid, signal.SIGINT)
        time.sleep(1)
        stop.set()
        os.waitpid(pid, 0)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
    raw = b"".join(data for _, data in chunks)
    (args.out / "follow.raw").write_bytes(raw)
    shown = lines_of(chunks, t0)
    (args.out / "follow.txt").write_text("".join(f"{t:7.2f}  {line}\n" for t, line in shown))
    last = max(last_progress) if last_progress else None
    idle_at = next((t0 + t for t, line in shown if last and t0 + t >= last and "● idle" in line), None)
    print(f"{args.files} files copied in {copied:.2f} s; library: {s['totals']['locations']} files, "
          f"{s['totals']['samples']} samples, {s['totals']['failed']} failed")
    bars = [(t, line) for t, line in shown if re.search(r"drop #\d+ .*\d+/\d+", line)]
    for t, line in bars[:: max(1, len(bars) // 8)] + bars[-1:]:
        print(f"{t:7.2f}  {line}")
    for t, line in shown:
        if " done: " in line or "● idle" in line and t > 0:
            print(f"{t:7.2f}  {line}")
    if last and idle_at:
        print(f"the display said idle {idle_at - last:.2f} s after the last file was recorded")
    print(f"transcript: {args.out / 'follow.txt'} (raw terminal bytes: {args.out / 'follow.raw'})")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
