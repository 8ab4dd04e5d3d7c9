"""What a follower shows, and how a drop and a job know their totals: pure parts, no daemon, no
terminal (status_view.View, job_summary, Progress, walk's skipped files)."""

from __future__ import annotations

import re

from sp404d.intake.progress import Progress
from sp404d.status_view import View, job_summary, skipped_text, state_line
from sp404d.watch.scan import walk


def job(**fields) -> dict:
    base = {"id": 3, "kind": "import", "paths": [], "done": True, "pending": 0, "walked": True, "total": 0,
            "completed": 0, "elapsed": 0.02, "seen": 0, "unchanged": 0, "analysed": 0, "recorded": 0,
            "duplicates": 0, "near_duplicates": 0, "failed": 0, "moved": 0, "missing": 0,
            "failed_by_category": {}, "skipped_not_audio": {}}
    return {**base, **fields}


def status(state="idle", jobs=(), pid=10, **queues) -> dict:
    return {"state": state, "pid": pid, "started_at": f"start-{pid}", "version": "0.1.0", "jobs": list(jobs),
            "queues": {"settling": 0, "queued": 0, "analysing": 0, "writing": 0, **queues},
            "counters": {"recorded": 7, "failed": 1}, "writer": {"error": None},
            "totals": {"samples": 5, "locations": 6, "failed": 1}}


def test_the_summary_reports_the_time_waited_and_a_rate_only_for_files_worked_on():
    fresh = job(seen=105, recorded=100, duplicates=3, near_duplicates=1, failed=5,
                failed_by_category={"corrupt": 3, "empty": 2}, elapsed=2.5)
    assert job_summary(fresh, seconds=5.0) == ("seen 105, recorded 100 (duplicates 3 exact + 1 near), failed 5 "
                                               "(corrupt 3, empty 2) in 5.0 s (21.0 files/s)")
    # 472 unchanged files in 0.06 s of pipeline after 3 s of waiting: no "8000 files/s"
    unchanged = job_summary(job(seen=472, unchanged=472, elapsed=0.06), seconds=3.04)
    assert unchanged == "seen 472, recorded 0 (duplicates 0 exact + 0 near), unchanged 472, failed 0 in 3.0 s"
    assert job_summary(job(seen=4, recorded=2, done=False, elapsed=1.0)).endswith(
        "in 1.0 s (2.0 files/s) (interrupted: run it again to finish)")


def test_files_that_are_not_audio_are_counted_by_extension():
    assert job_summary(job(skipped_not_audio={".ds": 764})).endswith(
        "; skipped 764 files that are not audio (.ds 764)")
    many = {".ds": 5, ".txt": 9, ".png": 1, ".pdf": 1, ".mid": 2, ".xml": 1}
    assert skipped_text(many) == "19 files that are not audio (.txt 9, .ds 5, .mid 2, .pdf 1, .png 1, ...)"
    assert skipped_text({"(no extension)": 1}) == "1 file that is not audio ((no extension) 1)"


def test_walk_tells_of_files_passed_over_but_not_of_hidden_ones(tmp_path):
    for name in ("kit/kick.wav", "kit/kick.ds", "kit/notes.txt", "README", "kit/.DS_Store", ".hidden/x.ds"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    skipped = []
    found = [p for p, _, _ in walk(str(tmp_path), on_skip=skipped.append)]
    assert found == [str(tmp_path / "kit/kick.wav")]
    assert sorted(skipped) == sorted(str(tmp_path / n) for n in ("README", "kit/kick.ds", "kit/notes.txt"))


def test_a_drop_has_a_total_that_grows_and_ends_once_all_its_files_have():
    started, finished = [], []
    p = Progress(on_start=started.append, on_finish=finished.append)
    drop = p.noticed(3)  # three files begin settling
    assert started == [drop] and drop.kind == "drop"
    d = drop.as_dict()
    assert (d["total"], d["completed"], d["pending"]) == (3, 0, 3)
    p.settling(3)
    assert p.noticed(2) is drop  # more arrive while it is open: the same drop, a larger total
    p.settling(5)
    for _ in range(4):  # four settle and go to intake
        p.begin(drop)
    p.settling(1)
    p.end(drop)  # one is recorded
    assert (drop.as_dict()["total"], drop.as_dict()["completed"]) == (5, 1)
    p.settling(0)  # the last one vanished while settling: nothing of the drop settles any more
    for _ in range(3):
        assert not finished
        p.end(drop)
    assert finished == [drop] and drop.done and drop.as_dict()["completed"] == 5
    p.settling(0)
    assert finished == [drop]  # told once
    assert p.noticed(1) is not drop and len(started) == 2  # the next file is a new drop


def test_a_drop_is_not_finished_by_a_file_handed_back_while_others_still_settle():
    finished = []
    p = Progress(on_finish=finished.append)
    drop = p.noticed(1)
    p.settling(1)
    p.begin(drop)  # offered to intake, which was full:
    p.end(drop)    # handed back (it still waits, counted by the settling side)
    assert not finished and not drop.done
    p.begin(drop)
    p.settling(0)
    p.end(drop)
    assert finished == [drop]


def test_a_walk_has_no_total_until_it_has_walked_and_tells_when_it_is_done():
    finished = []
    p = Progress(on_finish=finished.append)
    j = p.new_job("import", ("/x",))
    for _ in range(3):
        p.count("seen", j)
        p.begin(j)
    assert j.as_dict()["total"] is None and j.as_dict()["completed"] == 0
    p.walked(j)
    p.end(j)
    assert (j.as_dict()["total"], j.as_dict()["completed"]) == (3, 1)
    p.end(j, 2)
    assert finished == [j] and j.as_dict()["done"]


def test_the_view_follows_jobs_states_and_the_daemon_going_and_coming_back():
    v = View()
    drop = job(id=2, kind="drop", done=False, seen=40, total=40, completed=10, pending=30)
    assert v.connected(status("busy", [drop], settling=30)) == ["following sp404d 0.1.0 (pid 10)"]
    assert list(v.jobs) == [2]
    assert state_line(v.status) == ("busy", "settling 30; since start: recorded 7, failed 1")
    # a progress event moves the bar; a chore that found nothing gets no bar and no line
    chore = job(id=4, kind="background-reanalyse", done=False)
    assert v.on_event({"event": "progress", "jobs": [{**drop, "completed": 30}, chore]}) == []
    assert v.jobs[2]["completed"] == 30 and 4 not in v.jobs
    assert v.on_event({"event": "done", "what": "job", "job": {**chore, "done": True}}) == []
    done = {**drop, "done": True, "completed": 40, "pending": 0, "recorded": 39, "failed": 1, "elapsed": 4.0}
    assert v.on_event({"event": "done", "what": "job", "job": done}) == [
        "drop #2 done: seen 40, recorded 39 (duplicates 0 exact + 0 near), failed 1 in 4.0 s (10.0 files/s)"]
    assert v.jobs == {}
    assert v.on_status(status("busy", [drop])) == [] and v.jobs == {}  # a status older than the done event
    # states: paused and write-error get a line, busy and idle only the top line
    assert v.on_event({"event": "state", "state": "idle"}) == [] and v.state == "idle"
    assert v.on_event({"event": "state", "state": "paused"}) == ["paused"]
    assert state_line(v.status)[0] == "paused"
    assert v.on_event({"event": "state", "state": "busy"}) == ["paused is over: busy"]
    assert v.on_event({"event": "state", "state": "card-syncing"}) == []
    assert state_line({**v.status, "syncing": "/media/SP-404"})[1].startswith("/media/SP-404;")
    assert v.on_event({"event": "started", "what": "card-sync", "card": "/media/SP-404"}) == [
        "card sync of /media/SP-404 started"]
    assert v.on_event({"event": "done", "what": "card-sync", "card": "/media/SP-404",
                       "report": {"written": 32, "moved": 0, "removed": 1}}) == [
        "card sync of /media/SP-404 done: wrote 32, moved 0, removed 1"]
    plan = {"write": ["a", "b"], "move": [], "remove": ["c"], "keep": []}
    assert v.on_event({"event": "done", "what": "card-sync", "card": "/media/SP-404", "dry_run": True,
                       "report": {"written": 0, "moved": 0, "removed": 0, "plan": plan}}) == [
        "card dry run of /media/SP-404: would write 2, move 0, remove 1"]  # not "wrote 0"
    # the daemon stops: said once, however many tries it takes to come back
    v.on_status(status("busy", [job(id=9, kind="import", done=False, seen=5)]))
    assert v.on_event({"event": "state", "state": "stopping"}) == ["stopping"]
    assert v.lost("the connection ended") == ["import #9 interrupted: the daemon went away",
                                             "sp404d stopped (the connection ended); waiting for it to come back"]
    assert v.lost("no daemon answers") == []
    assert v.state == "not running" and state_line(None, "/run/s.sock")[0] == "not running"
    lines = v.connected(status("idle", pid=11))
    assert lines == ["sp404d restarted (pid 11): following it again"] and v.jobs == {}
    v.lost("x")
    assert v.connected(status("idle", pid=11)) == ["reconnected to sp404d"]


def test_a_follower_started_before_the_daemon_says_it_waits():
    v = View()
    assert v.lost("no daemon answers") == ["sp404d is not running (no daemon answers); waiting for it to start"]
    assert v.lost("no daemon answers") == []
    assert v.connected(status("starting")) == ["following sp404d 0.1.0 (pid 10)"]


def test_the_board_draws_the_state_and_a_bar_that_fills_with_its_rate_and_eta():
    from rich.console import Console

    from sp404d.status_view import Board

    clock = [100.0]
    console = Console(record=True, width=120, force_terminal=False)
    board = Board(console, get_time=lambda: clock[0])
    drop = job(id=2, kind="drop", done=False, seen=500, total=500, completed=0, pending=500)
    board.set_state(*state_line(status("busy", [drop], settling=500)))
    for second, completed in enumerate((0, 100, 200)):  # 100 files a second
        clock[0] = 100.0 + second
        board.show_jobs({2: {**drop, "completed": completed}})
    console.print(board.get_renderable())  # (not on a terminal: the unfilled part is blank)
    text = console.export_text()
    assert "● busy  settling 500; since start: recorded 7, failed 1" in text
    bar = re.search(r"drop #2 (━*) +200/500 100.0 files/s ETA 0:00:03", text)
    assert bar and len(bar.group(1)) == 16, text  # 40 % of the 40-column bar is filled
    board.show_jobs({})  # done: its bar goes (the done line is printed above the board)
    assert not board.tasks
