"""`sp404d status --follow` against a real daemon during real drops: its JSON stream, and its live
display read from a real pseudo-terminal. Both must end with what the library holds, tell each
job, state and card sync, and wait through a daemon restart (ending only on Ctrl-C)."""

from __future__ import annotations

import json
import os
import pty
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import threading

from fixtures.audio import hit, write
from tests.conftest import wait_until

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class JsonFollower:
    def __init__(self, env):
        self.proc = subprocess.Popen([sys.executable, "-m", "sp404d", "status", "--follow", "--json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env.env)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=lambda: [self.lines.put(json.loads(line)) for line in self.proc.stdout],
                         daemon=True).start()

    def until(self, match, timeout: float = 60, what: str = "an event") -> dict:
        """The first line from now on for which match(line) holds (every line read is kept in seen)."""
        def look():
            while True:
                try:
                    line = self.lines.get_nowait()
                except queue.Empty:
                    return None
                self.seen.append(line)
                if match(line):
                    return line
        return wait_until(look, timeout, interval=0.05, what=what)


def library_counts(env) -> tuple[int, int, int]:
    samples = env.rows("SELECT COUNT(DISTINCT sample_id) FROM location WHERE state = 'present'")[0][0]
    locations = env.rows("SELECT COUNT(*) FROM location WHERE state = 'present'")[0][0]
    failed = env.rows("SELECT COUNT(*) FROM failure")[0][0]
    return samples, locations, failed


def test_the_json_stream_tells_every_job_state_and_card_sync_and_waits_through_a_restart(daemon_env, tmp_path):
    env = daemon_env
    proc = env.start()
    f = JsonFollower(env)
    first = f.until(lambda e: e["event"] == "status", what="the first status")
    assert first["pid"] == proc.pid and "counters" in first

    (env.drop / "Pack").mkdir()
    (env.drop / "Pack" / "drumkit.xml").write_text("<drumkit/>")  # a pack's other files: passed over, and told
    (env.drop / "Pack" / "README.txt").write_text("thanks for downloading")
    (env.drop / "Pack" / ".DS_Store").write_bytes(b"litter")
    for i in range(24):  # a drop: files arriving through the watcher, no job asked for
        write(env.drop / "Pack" / f"hit_{i:02d}.wav", hit(300 + i, 0.2))
    started = f.until(lambda e: e["event"] == "started" and e["job"]["kind"] == "drop", what="the drop to start")
    done = f.until(lambda e: e["event"] == "done" and e.get("what") == "job" and e["job"]["kind"] == "drop",
                   what="the drop to be done")
    drop = done["job"]
    assert drop["id"] == started["job"]["id"] and drop["done"] and drop["pending"] == 0
    assert (drop["seen"], drop["total"], drop["completed"]) == (24, 24, 24)
    assert drop["recorded"] + drop["failed"] == 24
    assert drop["skipped_not_audio"] == {".xml": 1, ".txt": 1}
    f.until(lambda e: e["event"] == "state" and e["state"] == "idle", what="idle after the drop")
    samples, locations, failed = library_counts(env)
    assert (locations, failed) == (drop["recorded"], drop["failed"])
    assert env.status()["totals"]["samples"] == samples

    # a drop of nothing but a zip is a drop too: the user hears that it was not audio
    (env.drop / "samples.zip").write_bytes(b"PK\x03\x04")
    zipped = f.until(lambda e: e["event"] == "done" and e.get("what") == "job" and e["job"]["kind"] == "drop"
                     and e["job"]["id"] != drop["id"], what="the zip's drop")["job"]
    assert (zipped["seen"], zipped["skipped_not_audio"]) == (0, {".zip": 1})

    # an import handed to the daemon: its done event carries what `import` printed
    for i in range(5):
        write(tmp_path / "Elsewhere" / f"x{i}.wav", hit(400 + i, 0.2))
    (tmp_path / "Elsewhere" / "patch.ds").write_text("not audio")
    printed = json.loads(env.cli("import", str(tmp_path / "Elsewhere"), "--json").stdout)
    told = f.until(lambda e: e["event"] == "done" and e.get("what") == "job" and e["job"]["id"] == printed["id"],
                   what="the import's done event")["job"]
    assert told["kind"] == "import" and told["recorded"] == printed["recorded"] == 5
    assert told["skipped_not_audio"] == printed["skipped_not_audio"] == {".ds": 1}

    # pause and resume are told at once (before the command's reply)
    env.request("pause")
    f.until(lambda e: e["event"] == "state" and e["state"] == "paused", what="paused")
    env.request("resume")
    f.until(lambda e: e["event"] == "state" and e["state"] != "paused", what="the end of the pause")

    # a card sync: a state of its own while it writes, and a done event with its report
    card = tmp_path / "card"
    card.mkdir()
    r = env.cli("sync", "--card", str(card))  # a plain folder is not a card: refused, nothing made in it
    assert r.returncode == 1 and "does not look like an SP-404MKII card" in r.stderr and not any(card.iterdir())
    for name in ("IMPORT", "EXPORT"):
        (card / name).mkdir()
    assert env.cli("sync", "--card", str(card)).returncode == 0
    f.until(lambda e: e["event"] == "started" and e.get("what") == "card-sync", what="the sync to start")
    f.until(lambda e: e["event"] == "state" and e["state"] == "card-syncing", what="the card-syncing state")
    synced = f.until(lambda e: e["event"] == "done" and e.get("what") == "card-sync", what="the sync's done event")
    assert synced["card"] == str(card) and synced["report"]["error"] is None and synced["report"]["written"] > 0
    named = [c for c in env.status()["cards"] if c["path"] == str(card)]  # status lists a card named with --card
    assert len(named) == 1 and named[0]["role"] == "named" and named[0]["last_sync"]["written"] > 0
    assert named[0]["mounted"]
    shutil.move(card, tmp_path / "card-elsewhere")  # as when it is unmounted: status says it is not there now
    assert not [c for c in env.status()["cards"] if c["path"] == str(card)][0]["mounted"]

    # the daemon stops, then comes back: the follower says both and stays
    env.stop()
    f.until(lambda e: e["event"] == "state" and e["state"] == "stopping", what="stopping")
    f.until(lambda e: e["event"] == "disconnected", what="the follower to say the daemon went away")
    assert f.proc.poll() is None
    again = env.start()
    back = f.until(lambda e: e["event"] == "status", what="the follower to reconnect")
    assert back["pid"] == again.pid != proc.pid
    f.proc.send_signal(signal.SIGINT)
    assert f.proc.wait(20) == 130
    assert f.proc.stderr.read() == ""


class Terminal:
    """`sp404d status --follow` in a real pseudo-terminal; `text` is everything it was shown."""

    def __init__(self, env, cols: int = 120):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ.update({**env.env, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": "30"})
            os.execvp(sys.executable, [sys.executable, "-m", "sp404d", "status", "--follow"])
        self.raw = bytearray()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.raw.extend(data)

    @property
    def lines(self) -> list[str]:
        text = ANSI.sub("", bytes(self.raw).decode("utf-8", "replace"))
        return [line.rstrip() for line in re.split(r"[\r\n]+", text) if line.strip()]

    def wait_for(self, pattern: str, timeout: float = 60, after: int = 0) -> int:
        """The index of the first line (from `after`) that matches."""
        def find():
            for i, line in enumerate(self.lines[after:], after):
                if re.search(pattern, line):
                    return i + 1  # (0 would read as "not yet")
        try:
            return wait_until(find, timeout, interval=0.1, what=f"{pattern!r} on the terminal") - 1
        except AssertionError as e:
            raise AssertionError(f"{e}; it showed:\n" + "\n".join(self.lines[-40:])) from None

    def interrupt(self) -> int:
        os.kill(self.pid, signal.SIGINT)
        _, code = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(code)


def test_the_live_display_of_a_drop_has_a_total_a_bar_the_summary_and_what_the_library_holds(daemon_env):
    env = daemon_env
    term = Terminal(env)
    term.wait_for(r"not running .*waiting for the daemon")  # started first: it waits, and says so
    proc = env.start()
    at = term.wait_for(rf"following sp404d .*\(pid {proc.pid}\)")
    n = 40
    for i in range(n):
        write(env.drop / "Pack" / f"hit_{i:02d}.wav", hit(500 + i, 0.2))
    bar = term.wait_for(rf"drop #\d+ .*━.* +\d+/\d+($| )", after=at)  # (rate and ETA come when known)
    done = term.wait_for(r"drop #\d+ done: ", after=bar)
    summary = term.lines[done]
    assert re.search(rf"seen {n}, recorded {n} \(duplicates \d+ exact \+ \d+ near\), failed 0 in [\d.]+ s", summary)
    samples, locations, failed = library_counts(env)
    term.wait_for(rf"● idle +library {samples} samples in {locations} files, {failed} failed", after=done)
    assert locations == n
    totals = [int(m.group(1)) for line in term.lines[bar:done] if (m := re.search(r"━.* \d+/(\d+)($| )", line))]
    # every bar had a total, which grew as files arrived (the bar is gone once the drop is done, so
    # its last frame on screen may be from just before the last files arrived: the done line has n)
    assert totals and totals == sorted(totals) and n - 10 <= totals[-1] <= n, totals

    env.stop()
    gone = term.wait_for(r"sp404d stopped \(.*\); waiting for it to come back", after=done)
    term.wait_for(r"● not running", after=gone)
    again = env.start()
    term.wait_for(rf"sp404d restarted \(pid {again.pid}\): following it again", after=gone)
    assert term.interrupt() == 130
