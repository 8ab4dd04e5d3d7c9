"""The `sp404d` command. Errors a user can cause print one line and exit non-zero."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback

from sp404d import __version__, config as config_mod, logs, strictjson
from sp404d import cli_library as lib
from sp404d.cli_help import DESCRIPTIONS, KIT_ACTIONS, settings_in_effect
from sp404d.errors import ConfigError, Sp404dError


def _parser(settings: str | None = None) -> argparse.ArgumentParser:
    """`settings`: the lines `run --help` ends with (built only when help is asked for)."""
    p = argparse.ArgumentParser(prog="sp404d", description="Sample-library daemon for the Roland SP-404MKII.")
    p.add_argument("--config", metavar="FILE", help="config file (default: $SP404D_CONFIG, else the platform config file)")
    p.add_argument("-v", "--verbose", action="store_true", help="show details (tracebacks, debug logs)")
    p.add_argument("--version", action="version", version=f"sp404d {__version__}")
    p.epilog = "`sp404d COMMAND --help` says what a command reads and writes."
    sub = _Subcommands(p.add_subparsers(dest="command", metavar="COMMAND"), DESCRIPTIONS)
    sub.required = True
    sub.add_parser("run", help="run the daemon in the foreground", epilog=settings)
    s = sub.add_parser("status", help="what the daemon is doing (exit 3 when it is not running)")
    s.add_argument("--json", action="store_true", help="print the full status as JSON")
    s.add_argument("--follow", "-f", action="store_true",
                   help="stay attached: live progress bars with rate and ETA (JSON events with --json) until Ctrl-C")
    i = sub.add_parser("import", help="analyse files or folders now, and wait until they are recorded")
    i.add_argument("paths", nargs="*", metavar="PATH")
    i.add_argument("--reanalyse", action="store_true",
                   help="re-analyse samples recorded by an older analyser (under PATHs, or the whole library)")
    i.add_argument("--json", action="store_true", help="print the summary as JSON")
    e = sub.add_parser("export", help="one line per file location, with every field of its sample")
    e.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    e.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    q = sub.add_parser("search", help="find sounds: words and fields like category:kick bpm:85..95 key:~Am",
                       description=query_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("query", nargs="*", metavar="TERM")
    q.add_argument("--json", action="store_true", help="one JSON object per sound")
    q.add_argument("--limit", type=int, default=50, metavar="N", help="at most N sounds (default 50)")
    sm = sub.add_parser("similar", help="sounds most like one sound (a sample id, a path or a file name)")
    sm.add_argument("ref", metavar="REF", help="a sample id, a path, or a file name that only one sound has")
    sm.add_argument("--limit", type=int, default=20, metavar="N", help="at most N sounds (default 20)")
    sm.add_argument("--aspect", default="all", metavar="ASPECT",
                    help="what counts as alike: timbre, envelope, pitch or all (default all)")
    sm.add_argument("--any-kind", action="store_true",
                    help="loops for a one-shot too, and one-shots for a loop (default: the reference's kind)")
    sm.add_argument("--json", action="store_true", help="one JSON object per sound")
    k = sub.add_parser("kits", help="the kits, where they go on the card, and how many pads are filled")
    k.add_argument("--json", action="store_true")
    kit = _Subcommands(sub.add_parser("kit", help="show or change one kit").add_subparsers(dest="action", metavar="ACTION"),
                      KIT_ACTIONS)
    kit.required = True
    n = kit.add_parser("new", help="make an empty kit (then `kit set` and `kit pin` its pads)")
    n.add_argument("name")
    n.add_argument("--filter", metavar="QUERY", help="added to every pad's query, e.g. 'bpm:85..95'")
    ks = kit.add_parser("set", help="give a pad a query ('' empties it)")
    kp = kit.add_parser("pin", help="pin a sample (a file path or a sample id) to a pad")
    for parser, what in ((ks, "QUERY"), (kp, "PATH-or-ID")):
        parser.add_argument("name")
        parser.add_argument("pad", type=int, help="1-16")
        parser.add_argument("value", metavar=what)
    kf = kit.add_parser("fill", help="fill the empty pads with the sounds that fit best with the chosen ones")
    kf.add_argument("name", help="the kit")
    kf.add_argument("--json", action="store_true", help="print what was filled as JSON")
    ka = kit.add_parser("alt", help="the nearest alternatives to one pad's sound; --pick N pins one")
    ka.add_argument("name", help="the kit")
    ka.add_argument("pad", type=int, help="1-16")
    ka.add_argument("--limit", type=int, default=10, metavar="N", help="list N alternatives (default 10)")
    ka.add_argument("--pick", type=int, metavar="N", help="pin alternative N (as listed) to the pad (it replaces "
                    "the pad's query, if it has one)")
    ka.add_argument("--json", action="store_true", help="print the pad's sound and its alternatives as JSON")
    kd = kit.add_parser("delete", help="delete a kit made here (its files on the card go at the next sync)")
    kd.add_argument("name")
    sh = kit.add_parser("show", help="each pad's sound, its card name, and why it was chosen")
    sh.add_argument("name")
    sh.add_argument("--json", action="store_true")
    dr = sub.add_parser("doctor", help="check the setup and explain how to fix what is wrong (exit 1 if so)")
    dr.add_argument("--json", action="store_true")
    f = sub.add_parser("failures", help="files that could not be analysed, with category and reason")
    f.add_argument("--retry", action="store_true", help="analyse them again now")
    f.add_argument("--category", help="only this category (unreadable, empty, unsupported, corrupt, ...)")
    f.add_argument("--json", action="store_true")
    y = sub.add_parser("sync", help="write the kits to the SP-404MKII card now (the daemon does it on mount)")
    y.add_argument("--card", metavar="PATH", help="the card's mount point (default: every mounted SP-404MKII card)")
    y.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    y.add_argument("--json", action="store_true")
    d = sub.add_parser("dupes", help="sounds that live in more than one file (exact copies and near duplicates)")
    d.add_argument("--json", action="store_true", help="one JSON object per group")
    st = sub.add_parser("stop", help="stop the daemon (as SIGTERM) and wait until it has exited")
    st.add_argument("--timeout", type=float, default=60, metavar="SECONDS", help="how long to wait (default 60)")
    for name, text in (("pause", "stop taking new files (in-flight ones finish)"), ("resume", "take new files again"),
                       ("rescan", "walk the watched folders now")):
        sub.add_parser(name, help=text)
    return p


class _Paragraphs(argparse.HelpFormatter):
    """Wraps each line of a description on its own, so line breaks and paragraphs stay."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        def fill(line: str) -> str:
            hang = indent + line[:len(line) - len(line.lstrip())] + "  " * line.startswith(" ")
            return textwrap.fill(line, width, initial_indent=indent, subsequent_indent=hang, break_on_hyphens=False,
                                 break_long_words=False) if line else ""

        return "\n".join(fill(line) for line in text.splitlines())


class _Subcommands:
    """add_subparsers' action, giving each subcommand its --help description from cli_help."""

    def __init__(self, action, descriptions: dict[str, str | None]):
        self._action, self._descriptions = action, descriptions

    def add_parser(self, name: str, **kw) -> argparse.ArgumentParser:
        if self._descriptions.get(name) and "description" not in kw:
            kw["description"] = self._descriptions[name]
            kw.setdefault("formatter_class", _Paragraphs)
        return self._action.add_parser(name, **kw)

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._action, name, value)


def query_help() -> str:
    from sp404d.kits import query

    terms = query.__doc__.split("\n", 2)[2].split("A parse error")[0]
    return ("Find sounds in the library: one row per sound (its best file), every term must match.\n" + terms
            + "Quote a query that starts with a negation: sp404d search -- -fx kick\n\n"
            + "Reads: the library (library.path). Writes nothing.")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    settings = None
    if "run" in argv and any(a in ("-h", "--help") for a in argv):
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--config")
        settings = settings_in_effect(pre.parse_known_args(argv)[0].config)
    parser = _parser(settings)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command == "search":  # "-fx" in a query is a negation, not an option
        args.query = [*args.query, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        try:
            cfg = config_mod.load(args.config)
        except ConfigError as e:
            if args.command != "doctor":
                raise
            logs.configure("warning")
            return cmd_doctor(None, args, config_error=e)  # one failed check; the others still run
        level = "debug" if args.verbose else cfg.log_level
        # a command's own output is not mixed with info logs (only the daemon logs those, to its log)
        logs.configure(level if args.command == "run" or args.verbose else "warning")
        return COMMANDS[args.command](cfg, args)
    except Sp404dError as e:
        if args.verbose:
            traceback.print_exc()
        print(f"sp404d: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug, not the user's doing: still one line, the details with --verbose
        if args.verbose:
            traceback.print_exc()
        print(f"sp404d: internal error ({type(e).__name__}: {e}); run with --verbose for details",
              file=sys.stderr)
        return 70  # EX_SOFTWARE


# -- commands --

def cmd_run(cfg, args) -> int:
    from sp404d.daemon import Daemon

    return Daemon(cfg).run()


def cmd_status(cfg, args) -> int:
    from sp404d.control.client import Client

    if args.follow:
        from sp404d.control.follow import follow_status

        return follow_status(cfg.socket_path, args.json)
    with Client(cfg.socket_path) as client:
        status = client.request("status")
    status.pop("ok", None)
    if args.json:
        print(strictjson.dumps(status, indent=2))
    else:
        print(format_status(status))
    return 0


def format_status(s: dict) -> str:
    c, q, t = s["counters"], s["queues"], s["totals"]
    eta = f", ETA {s['eta_seconds']:.0f} s" if s.get("eta_seconds") else ""
    lines = [
        f"sp404d {s['version']} (pid {s['pid']}): {s['state']}, up {s['uptime']:.0f} s",
        "watching: " + (", ".join(f"{r['path']} ({r['observer']})" for r in s["roots"]) or "nothing"),
        f"queues:   settling {q['settling']}, queued {q['queued']}, analysing {q['analysing']}, writing {q['writing']}",
        f"since start: seen {c['seen']}, analysed {c['analysed']}, unchanged {c['unchanged']}, "
        f"duplicates {c['duplicates']} exact + {c['near_duplicates']} near, failed {c['failed']}; "
        f"{s['rate_per_second']:.1f} files/s{eta}",
        f"library:  {t['samples']} samples ({t['groups']} distinct sounds) in {t['locations']} files "
        f"({t['duplicates']} exact and {t['near_duplicates']} near duplicates, {t['missing']} missing, "
        f"{t['failed']} failed) — {s['library']}",
    ]
    if t.get("outdated"):
        lines.append(f"older:    {t['outdated']} sounds described by an older analyser: the daemon describes those "
                     "under its watched folders again when idle; `sp404d import --reanalyse` does all now")
    for card in s.get("cards", []):
        last = card.get("last_sync")
        sync = ("never synced" if not last else f"last sync {time.strftime('%H:%M:%S', time.localtime(last['finished_at']))}"
                f": wrote {last.get('written', 0)}, moved {last.get('moved', 0)}, removed {last.get('removed', 0)}"
                + (f", pending {len(last['pending'])}" if last.get("pending") else "")
                + (f" — {last['error']}" if last.get("error") else ""))
        lines.append(f"card:     {card['label']} ({card['role']}{'' if card['mounted'] else ', unmounted'}) "
                     f"{card['path']}: {sync}")
    if s["failed_by_category"]:
        lines.append("failed:   " + ", ".join(f"{k} {v}" for k, v in sorted(s["failed_by_category"].items())))
    if s["writer"]["error"]:
        lines.append(f"writer:   {s['writer']['error']}")
    for err in s["last_errors"][-3:]:
        lines.append(f"error:    {err['category']}: {err['path']}: {err['message']}")
    return "\n".join(lines)


def _simple(command: str):
    def run(cfg, args) -> int:
        from sp404d.control.client import Client

        with Client(cfg.socket_path) as client:
            reply = client.request(command)
        print(reply.get("state") or f"job {reply['job']['id']} started")
        return 0
    return run


def cmd_stop(cfg, args) -> int:
    """Ask the daemon to stop, then wait for its library lock: the daemon lets go of it only when
    its work is finished or handed to the next start and the library is closed."""
    from sp404d.control.client import Client
    from sp404d.errors import LibraryBusy
    from sp404d.lock import LibraryLock

    with Client(cfg.socket_path) as client:
        pid = client.request("stop")["pid"]
    lock = LibraryLock(cfg.lock_path)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            lock.acquire("stop")
        except LibraryBusy:
            time.sleep(0.1)
            continue
        lock.release()
        print(f"sp404d stopped (pid {pid})")
        return 0
    raise Sp404dError(f"the daemon (pid {pid}) is still stopping after {args.timeout:.0f} s")


def _process_started() -> float:
    """When this process began, on the monotonic clock: `import` reports the time the user waited,
    interpreter start-up included (Linux: from /proc; elsewhere, when this module was imported)."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime, in ticks since boot
        with open("/proc/uptime") as f:
            age = float(f.read().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
        return time.monotonic() - max(age, 0.0)
    except (OSError, ValueError, IndexError):
        return time.monotonic()


_STARTED = _process_started()


def cmd_import(cfg, args) -> int:
    paths = [os.path.abspath(p) for p in args.paths]
    if not paths and not args.reanalyse:
        raise Sp404dError("import needs at least one PATH (or --reanalyse)")
    for p in paths:
        if not os.path.exists(p):
            raise Sp404dError(f"no such file or folder: {p}")
    job = run_job(cfg, "reanalyse" if args.reanalyse else "import", paths, args.json)
    print_summary(job, args.json, waited=time.monotonic() - _STARTED)
    return 0 if job["done"] else 130


def run_job(cfg, command: str, paths: list[str], json_out: bool, category: str | None = None) -> dict:
    """Run an intake job (import, reanalyse, retry) in the daemon when it runs, else here.
    `category`: a retry of one failure category only."""
    from sp404d.control.client import Client, daemon_running
    from sp404d.control.follow import follow_job

    if daemon_running(cfg.socket_path):  # the daemon is the library's writer: hand the work over
        with Client(cfg.socket_path) as client:
            job = client.request(command, **({"paths": paths} if paths else {}),
                                 **({"category": category} if category else {}))["job"]
            return follow_job(lambda: client.request("job", id=job["id"])["job"], json_out=json_out)
    return _import_here(cfg, paths, json_out, mode=command, category=category)


def _import_here(cfg, paths: list[str], json_out: bool, mode: str = "import", category: str | None = None) -> dict:
    from sp404d.control.follow import follow_job
    from sp404d.engine import Engine
    from sp404d.lock import held_here

    interrupted = []
    with held_here(cfg.lock_path, cfg.socket_path, "import"):
        previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
        signal.signal(signal.SIGTERM, lambda *_: interrupted.append(True))
        try:
            engine = Engine(cfg, "import")
            try:
                engine.start()
                job = {"reanalyse": lambda: engine.reanalyse(paths or None),
                       "retry": lambda: engine.retry(paths or None, category),
                       "import": lambda: engine.scan(paths, kind="import")}[mode]()
                result = follow_job(job.as_dict, json_out=json_out, stop=lambda: bool(interrupted))
                engine.writer.flush(60)
                return {**result, "transactions": engine.writer.transactions}
            finally:
                engine.stop()
        finally:
            signal.signal(signal.SIGINT, previous)


def cmd_failures(cfg, args) -> int:
    from sp404d.errors import failure_category
    from sp404d.library import queries

    failure_category(args.category)
    if args.retry:
        job = run_job(cfg, "retry", [], args.json, category=args.category)
        print_summary(job, args.json)
        return 0 if job["done"] else 130
    sys.stdout.reconfigure(errors="surrogateescape")
    with lib.library(cfg).connection_context():
        rows = queries.failures(args.category)
    if args.json:
        for row in rows:
            print(strictjson.dumps(row))
        return 0
    for row in rows:
        tries = f" (tried {row['attempts']}x)" if row["attempts"] > 1 else ""
        print(f"{row['category']:<12} {row['path']}: {row['message']}{tries}")
    counts = {}
    for row in rows:
        counts[row["category"]] = counts.get(row["category"], 0) + 1
    print(f"{len(rows)} failed file(s)" + (": " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                                           if rows else "") + ("; `sp404d failures --retry` tries them again" if rows else ""))
    return 0


def cmd_doctor(cfg, args, config_error: ConfigError | None = None) -> int:
    from sp404d import doctor

    checks = doctor.run(cfg, config_error)
    if args.json:
        print(strictjson.dumps(doctor.as_dicts(checks)))
    else:
        marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
        for c in checks:
            print(f"{marks[c.status]}  {c.name}: {c.detail}" + (f"\n      fix: {c.fix}" if c.fix else ""))
        bad = [c for c in checks if c.status == "fail"]
        print(f"{len(bad)} problem(s) found" if bad else "everything needed is in place")
    return 1 if any(c.status == "fail" for c in checks) else 0


def print_summary(job: dict, json_out: bool, waited: float | None = None) -> None:
    """The job's result on stdout (logs go to stderr). `waited`: the time to report, else the job's own."""
    from sp404d.status_view import job_summary

    if json_out:
        print(strictjson.dumps(job if waited is None else {**job, "waited": round(waited, 3)}))
        return
    print(job_summary(job, waited))


COMMANDS = {"run": cmd_run, "status": cmd_status, "import": cmd_import, "export": lib.cmd_export, "dupes": lib.cmd_dupes,
            "search": lib.cmd_search, "similar": lib.cmd_similar, "kits": lib.cmd_kits, "kit": lib.cmd_kit, "sync": lib.cmd_sync, "failures": cmd_failures, "doctor": cmd_doctor,
            "stop": cmd_stop, "pause": _simple("pause"), "resume": _simple("resume"), "rescan": _simple("rescan")}
