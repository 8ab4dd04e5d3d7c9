"""What `status --follow` and `import` show: the words (pure functions and a pure model of the
daemon as a follower knows it, tested without a terminal) and the rich progress that draws them.

The model takes the daemon's status replies and its events (see control/follow.py for the loop
that feeds it) and answers two things: what the live area shows now (a state line and one bar per
open job) and which lines to print once above it (a job done, the daemon gone or back).
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn,
                           TimeRemainingColumn)
from rich.text import Text

STATE_STYLES = {"idle": "green", "busy": "cyan", "paused": "yellow", "card-syncing": "magenta",
                "write-error": "bold red", "starting": "dim", "stopping": "dim", "not running": "red"}


def state_label(state: str) -> str:
    return state.replace("card-syncing", "card syncing")


def skipped_text(skipped: dict) -> str:
    """'764 files that are not audio (.ds 764)': at most 5 extensions, most common first."""
    n = sum(skipped.values())
    shown = sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))
    exts = ", ".join(f"{ext} {count}" for ext, count in shown[:5]) + (", ..." if len(shown) > 5 else "")
    return f"{n} file{'s' if n != 1 else ''} that {'are' if n != 1 else 'is'} not audio ({exts})"


def job_summary(job: dict, seconds: float | None = None) -> str:
    """One line: what a job found and did. `seconds` is the time to report (the time the user
    waited, for `import`); the rate counts only files that were really worked on (recorded or
    failed), so files skipped as unchanged never make it look fast."""
    seconds = job["elapsed"] if seconds is None else seconds
    failed = ", ".join(f"{k} {v}" for k, v in sorted(job.get("failed_by_category", {}).items()))
    parts = [f"seen {job['seen']}",  # duplicates are recorded too: as one more file of a sound
             f"recorded {job['recorded']} (duplicates {job['duplicates']} exact + {job['near_duplicates']} near)",
             *([f"unchanged {job['unchanged']}"] if job["unchanged"] else []),
             f"failed {job['failed']}" + (f" ({failed})" if failed else "")]
    worked = job["recorded"] + job["failed"]
    text = ", ".join(parts) + f" in {seconds:.1f} s" + (f" ({worked / max(seconds, 1e-3):.1f} files/s)" if worked else "")
    if job.get("skipped_not_audio"):
        text += f"; skipped {skipped_text(job['skipped_not_audio'])}"
    return text + ("" if job["done"] else " (interrupted: run it again to finish)")


def job_name(job: dict) -> str:
    return f"{job['kind']} #{job['id']}"


def done_line(job: dict) -> str:
    return f"{job_name(job)} done: {job_summary(job)}"


def sync_line(report: dict, dry_run: bool = False) -> str:
    if dry_run and not report.get("error"):  # what it would do, not "wrote 0"
        plan = report.get("plan") or {}
        return (f"card dry run of {report.get('card')}: would write {len(plan.get('write', []))}, move "
                f"{len(plan.get('move', []))}, remove {len(plan.get('remove', []))}")
    if report.get("error"):
        return f"card sync of {report.get('card')} failed: {report['error']}"
    return (f"card sync of {report.get('card')} done: wrote {report.get('written', 0)}, moved {report.get('moved', 0)}, "
            f"removed {report.get('removed', 0)}" + (f", pending {len(report['pending'])}" if report.get("pending") else ""))


def state_line(s: dict | None, waiting_for: str | None = None) -> tuple[str, str]:
    """(state, the rest of the line) for the top of the live area."""
    if s is None:
        return "not running", f"waiting for the daemon at {waiting_for} (Ctrl-C to quit)"
    q, t = s["queues"], s["totals"]
    library = f"library {t['samples']} samples in {t['locations']} files, {t['failed']} failed"
    state = s["state"]
    if state in ("idle", "starting", "stopping"):
        return state, library
    if state == "paused":
        return state, f"new files wait for `sp404d resume`; {library}"
    if state == "write-error":
        return state, f"{s['writer']['error']}; {library}"
    if state == "card-syncing":
        return state, f"{s.get('syncing') or 'a card'}; {library}"
    work = ", ".join(f"{k} {v}" for k, v in q.items() if v) or "working"
    c = s["counters"]  # counted as they happen (the library's counts are asked for less often)
    return state, f"{work}; since start: recorded {c['recorded']}, failed {c['failed']}"


class View:
    """The daemon as the follower knows it. Each method returns the lines to print once."""

    def __init__(self):
        self.status: dict | None = None   # the last status reply; None while not connected
        self.daemon: tuple | None = None  # (pid, started_at) of the daemon last connected to
        self.jobs: dict[int, dict] = {}   # open jobs with files, by id
        self._finished: set[int] = set()
        self._gone_said = False

    @property
    def state(self) -> str:
        return self.status["state"] if self.status else "not running"

    def connected(self, s: dict) -> list[str]:
        daemon = (s["pid"], s.get("started_at"))
        if self.daemon is None:
            line = f"following sp404d {s['version']} (pid {s['pid']})"
        elif daemon != self.daemon:
            line = f"sp404d restarted (pid {s['pid']}): following it again"
            self.jobs, self._finished = {}, set()  # its job numbers start again from 1
        else:
            line = "reconnected to sp404d"
        self.daemon, self._gone_said = daemon, False
        return [line, *self.on_status(s)]

    def lost(self, why: str) -> list[str]:
        """The connection ended: the daemon stopped (or was stopped, or is restarting)."""
        if self._gone_said:
            return []
        self._gone_said = True
        was = self.status
        self.status = None
        lines = [f"{job_name(j)} interrupted: the daemon went away" for j in self.jobs.values()]
        self.jobs = {}
        if self.daemon is None:
            return [f"sp404d is not running ({why}); waiting for it to start"]
        said = "stopped" if was and was.get("state") == "stopping" else "went away"
        return [*lines, f"sp404d {said} ({why}); waiting for it to come back"]

    def on_status(self, s: dict) -> list[str]:
        """A status reply; one without totals (asked for without them) keeps the last ones."""
        before = self.state if self.status else None
        if s.get("totals") is None and self.status is not None:
            s = {**s, "totals": self.status["totals"]}
        self.status = s
        open_jobs = {j["id"]: j for j in s["jobs"] if j["id"] not in self._finished}
        self.jobs = {i: j for i, j in open_jobs.items() if j["seen"] or j["kind"] in ("import", "drop")}
        return self._state_changed(before, s["state"])

    def on_event(self, e: dict) -> list[str]:
        kind = e.get("event")
        if kind == "state" and self.status is not None:
            before, self.status = self.status["state"], {**self.status, "state": e["state"]}
            return self._state_changed(before, e["state"])
        if kind == "progress":
            for j in e.get("jobs", []):
                if j["id"] in self.jobs or (j["seen"] and j["id"] not in self._finished):
                    self.jobs[j["id"]] = j
            return []
        if kind == "done" and e.get("what") == "job":
            job = e["job"]
            self._finished.add(job["id"])
            self.jobs.pop(job["id"], None)
            # the daemon's chores that found nothing (a rescan, a re-analysis of nothing) say nothing
            if job["seen"] or job.get("skipped_not_audio") or job["kind"] in ("import", "drop"):
                return [done_line(job)]
            return []
        if kind == "done" and e.get("what") == "card-sync":
            return [sync_line({**e.get("report", {}), "card": e.get("card")}, bool(e.get("dry_run")))]
        if kind == "started" and e.get("what") == "card-sync":
            return [f"card {'dry run' if e.get('dry_run') else 'sync'} of {e['card']} started"]
        return []

    def _state_changed(self, before: str | None, after: str) -> list[str]:
        """A line for the states worth a line of their own (busy and idle alternate too often)."""
        if before == after or before is None:
            return []
        if after in ("paused", "write-error", "stopping"):
            detail = self.status["writer"]["error"] if after == "write-error" and self.status.get("writer") else ""
            return [state_label(after) + (f": {detail}" if detail else "")]
        if before in ("paused", "write-error"):
            return [f"{state_label(before)} is over: {state_label(after)}"]
        return []


class RateColumn(ProgressColumn):
    """Files a second, as rich measures it from the progress it is given."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:5.1f} files/s" if task.speed else "", style="progress.data.speed")


class EtaColumn(TimeRemainingColumn):
    """'ETA 0:00:12' once rich can tell (a total and a rate), nothing before."""

    def render(self, task: Task) -> Text:
        if task.total is None or task.time_remaining is None:
            return Text("")
        return Text.assemble("ETA ", super().render(task))


class Board(Progress):
    """rich's progress, with the state line on top: one bar per open job."""

    def __init__(self, console: Console | None = None, transient: bool = False, get_time=None):
        self.header = Text("")
        self._bars: dict[int, int] = {}  # job id -> task id
        super().__init__(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                         EtaColumn(), console=console, transient=transient, refresh_per_second=8, get_time=get_time)

    def get_renderables(self):
        if self.header:
            yield self.header
        yield self.make_tasks_table(self.tasks)

    def set_state(self, state: str, rest: str) -> None:
        self.header = Text.assemble((f"● {state_label(state)}", STATE_STYLES.get(state, "")), "  ", rest)

    def show_jobs(self, jobs: dict[int, dict]) -> None:
        """Make the bars match the open jobs: a new one for a new job, gone with a finished one."""
        for job_id in [i for i in self._bars if i not in jobs]:
            self.remove_task(self._bars.pop(job_id))
        for job_id, job in sorted(jobs.items()):
            desc = job_name(job) if job["total"] is not None else f"{job_name(job)} (walking)"
            if job_id not in self._bars:
                self._bars[job_id] = self.add_task(desc, total=job["total"], completed=job["completed"])
            else:
                self.update(self._bars[job_id], description=desc, total=job["total"], completed=job["completed"])

    def say(self, line: str) -> None:
        """A line printed once, above the live area, with the time."""
        self.console.print(Text(f"{time.strftime('%H:%M:%S')} {line}"), highlight=False)
