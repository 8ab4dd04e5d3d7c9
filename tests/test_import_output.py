"""What `sp404d import` prints: the summary alone on stdout (logs on stderr), the time the user
waited, and why a folder gave no samples (its files are not audio)."""

from __future__ import annotations

import json
import re

from fixtures.audio import hit, write


def test_stdout_holds_the_summary_alone_with_the_time_waited(daemon_env, tmp_path):
    env = daemon_env
    for i in range(6):
        write(tmp_path / "Kit" / f"k{i}.wav", hit(700 + i, 0.2))
    r = env.cli("import", str(tmp_path / "Kit"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and not lines[0].startswith("{"), r.stdout  # no log line among the output
    assert r.stderr == ""  # nor beside it (2>&1): info logs are the daemon's, for its log
    assert re.fullmatch(r"seen 6, recorded 6 \(duplicates 0 exact \+ \d+ near\), failed 0 in [\d.]+ s "
                        r"\([\d.]+ files/s\)", lines[0]), lines[0]
    # the time reported covers the start of the workers too, not only the job's own pipeline time
    again = json.loads(env.cli("import", str(tmp_path / "Kit"), "--json").stdout)
    assert again["unchanged"] == 6 and again["waited"] > again["elapsed"]


def test_a_folder_of_files_that_are_not_audio_says_so(daemon_env, tmp_path):
    env = daemon_env
    for i in range(4):
        (tmp_path / "drumsynth" / "tr808" / f"kick{i}.ds").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "drumsynth" / "tr808" / f"kick{i}.ds").write_text("[General]\n")
    (tmp_path / "drumsynth" / "README.txt").write_text("presets")
    (tmp_path / "drumsynth" / ".directory").write_text("hidden: not counted")
    r = env.cli("import", str(tmp_path / "drumsynth"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("seen 0, recorded 0")
    assert r.stdout.rstrip().endswith("; skipped 5 files that are not audio (.ds 4, .txt 1)"), r.stdout
    job = json.loads(env.cli("import", str(tmp_path / "drumsynth"), "--json").stdout)
    assert job["seen"] == 0 and job["skipped_not_audio"] == {".ds": 4, ".txt": 1}
