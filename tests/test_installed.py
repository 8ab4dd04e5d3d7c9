"""What users install is what is tested.

The sdist and the wheel are built from the checkout (the wheel from the sdist, as `python -m build`
does), the wheel is installed into a fresh virtual environment outside the checkout (not editable,
its dependencies resolved by pip), and the daemon from that install runs end to end: `sp404d run`
with a temporary config, audio dropped into its folder, `sp404d status --json` until the files are
recorded with a category, `sp404d stop`. Nothing here imports the source tree's `sp404d`: every
step runs the installed console script from a folder outside the checkout.

A file of the package missing from the wheel fails here twice: in the file list, and (for a file
the analysis reads, as category_model.json once was) when the installed daemon cannot start.
The summary of this check is printed at the end of the test run (see conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fixtures import music
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parent.parent
BIN = "Scripts" if os.name == "nt" else "bin"


def _run(cmd: list, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def _clean_env(**extra: str) -> dict:
    """The environment of a user's shell: nothing that points Python at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _source_files() -> set[str]:
    """The files the package is made of, as their paths inside the installed package."""
    files = {str(p.relative_to(ROOT)) for p in (ROOT / "sp404d").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    files |= {f"sp404d/defaults/{p.name}" for p in (ROOT / "config").glob("*.toml")}
    return files


@pytest.fixture(scope="module")
def installed(tmp_path_factory, installed_check) -> Path:
    """Build the sdist and wheel, install the wheel into a new venv; return the venv."""
    work = tmp_path_factory.mktemp("installed")
    assert not work.resolve().is_relative_to(ROOT), "the install must live outside the checkout"
    dist = work / "dist"
    src = work / "src"  # build from a copy: a build must not depend on (or write into) the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build",
                                                             "dist", ".pytest_cache"))
    t = time.monotonic()
    _run([sys.executable, "-m", "build", "--outdir", dist, src], env=_clean_env())
    wheel = next(dist.glob("sp404d-*.whl"))
    sdist = next(dist.glob("sp404d-*.tar.gz"))
    installed_check.append(f"built {sdist.name} and {wheel.name} (from the sdist) in {time.monotonic() - t:.0f} s")

    venv = work / "venv"
    t = time.monotonic()
    _run([sys.executable, "-m", "venv", venv])
    _run([venv / BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel],
         env=_clean_env(), cwd=work)
    installed_check.append(f"installed {wheel.name} with its dependencies into a fresh venv {venv} "
                           f"in {time.monotonic() - t:.0f} s")
    return venv


def test_wheel_and_sdist_carry_every_file_of_the_package(installed, installed_check):
    dist = installed.parent / "dist"
    with zipfile.ZipFile(next(dist.glob("sp404d-*.whl"))) as z:
        in_wheel = {n for n in z.namelist() if n.startswith("sp404d/")}
    with tarfile.open(next(dist.glob("sp404d-*.tar.gz"))) as t:
        in_sdist = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    expected = _source_files()
    assert "sp404d/analysis/category_model.json" in expected and "sp404d/defaults/sp404d.toml" in expected
    assert not expected - in_wheel, f"missing from the wheel: {sorted(expected - in_wheel)}"
    in_sdist_as_installed = {n.replace("config/", "sp404d/defaults/", 1) if n.startswith("config/") else n
                             for n in in_sdist}
    assert not expected - in_sdist_as_installed, f"missing from the sdist: {sorted(expected - in_sdist_as_installed)}"
    site = next(installed.glob("lib/python*/site-packages/sp404d"))
    on_disk = {str(p.relative_to(site.parent)) for p in site.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert not expected - on_disk, f"missing from the install: {sorted(expected - on_disk)}"
    installed_check.append(f"wheel, sdist and install each carry all {len(expected)} files of the package")


def _drop_audio(folder: Path) -> int:
    """Real audio files a user might drop: drum hits, a loop and a chord, in several formats."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    hits = music.synth_hits(seed=3)
    for name, ext in (("kick", "wav"), ("snare", "flac"), ("hat", "wav"), ("ohat", "aiff")):
        sf.write(str(folder / f"{name}_one.{ext}"), (hits[name] * 0.8).astype(np.float32), music.SR)
    truth = music.loop_set(1, seed=5)[0]
    music.write(folder / "groove_loop.wav", music.render_loop(truth))
    music.write(folder / "chord_stab.wav", music.render_tonal_oneshot(9, "minor", "chord", seed=1))
    return len(list(folder.iterdir()))


def test_installed_daemon_runs_end_to_end(installed, tmp_path_factory, installed_check):
    """`sp404d run` from the install records dropped audio with categories; `sp404d stop` stops it."""
    home = tmp_path_factory.mktemp("user")  # cwd and config outside the checkout
    drop, socket_path = home / "drop", home / "run" / "sp404d.sock"
    config = home / "sp404d.toml"
    config.write_text(f'[library]\npath = "{home / "lib" / "library.db"}"\n'
                      f'[watch]\nfolders = ["{drop}"]\nsettle_seconds = 0.5\nrescan_minutes = 0\n'
                      f'[analysis]\nworkers = 2\n[control]\nsocket = "{socket_path}"\n')
    env = _clean_env(SP404D_CONFIG=str(config))
    sp404d = installed / BIN / "sp404d"

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([str(sp404d), *args], capture_output=True, text=True, env=env, cwd=home, timeout=120)
        assert not check or r.returncode == 0, f"sp404d {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    assert "config" in cli("run", "--help").stdout
    log = open(home / "daemon.log", "w")
    started = time.monotonic()
    proc = subprocess.Popen([str(sp404d), "run"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=home)
    try:
        def answering():
            assert proc.poll() is None, f"the installed daemon exited {proc.returncode}:\n{(home / 'daemon.log').read_text()[-3000:]}"
            r = cli("status", "--json", check=False)
            return r.returncode == 0 and json.loads(r.stdout)["state"] not in ("starting",)
        wait_until(answering, 120, interval=0.25, what="the installed daemon to answer")
        ready = time.monotonic() - started
        files = _drop_audio(drop)

        def recorded():
            s = json.loads(cli("status", "--json").stdout)
            t = s["totals"]
            return s if s["state"] == "idle" and t["locations"] + t["failed"] >= files else None
        status = wait_until(recorded, 120, interval=0.25, what=f"{files} files recorded by the installed daemon")
        totals = status["totals"]
        assert totals["failed"] == 0 and totals["locations"] == files, totals
        assert totals["categorised"] == totals["samples"] == files, totals
        found = [json.loads(line) for line in cli("search", "--json").stdout.splitlines()]
        assert {r["category"] for r in found if "kick_one" in r["path"]} == {"kick"}, found

        stopped = cli("stop")
        assert proc.wait(30) == 0, (home / "daemon.log").read_text()[-3000:]
        assert not socket_path.exists(), "the socket outlived the daemon"
        assert stopped.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    installed_check.append(f"the installed `sp404d run` answered after {ready:.1f} s, recorded {files} dropped files, "
                           f"all with a category ({', '.join(sorted({r['category'] for r in found}))}); "
                           f"`sp404d stop` stopped it (exit 0, socket removed)")


def test_installed_daemon_without_its_model_says_why_in_one_line(installed, tmp_path_factory, installed_check):
    """A package file the workers need is gone: one line with the cause, exit 69, no stale socket.
    The model is put back afterwards, so the install stays whole for any test after this one."""
    model = next(installed.glob("lib/python*/site-packages/sp404d/analysis/category_model.json"))
    home = tmp_path_factory.mktemp("broken")
    socket_path = home / "run" / "sp404d.sock"
    config = home / "sp404d.toml"
    config.write_text(f'[library]\npath = "{home / "library.db"}"\n[watch]\nfolders = ["{home / "drop"}"]\n'
                      f'[analysis]\nworkers = 2\n[control]\nsocket = "{socket_path}"\n')
    aside = model.with_name("category_model.json.aside")
    model.rename(aside)
    try:
        r = subprocess.run([str(installed / BIN / "sp404d"), "run"], capture_output=True, text=True,
                           cwd=home, timeout=120, env=_clean_env(SP404D_CONFIG=str(config)))
    finally:
        aside.rename(model)
    lines = [line for line in r.stderr.splitlines() if line.startswith("sp404d:")]
    assert r.returncode == 69, r.stderr
    assert lines == [f"sp404d: analysis workers failed to start: category_model.json missing from the installed "
                     f"package ({model.parent.parent}); reinstall sp404d"], r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert not socket_path.exists(), "a stale socket was left behind"
    installed_check.append("without category_model.json the installed daemon exits 69 with one line: " + lines[0])
