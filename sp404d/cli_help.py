"""What each subcommand's --help says: what it does, what it reads and what it writes.

Kept apart from the argument definitions in cli.py so the words can be read (and changed) in one
place. `run --help` also shows the settings in effect (config files, folders, library, socket),
read the way the daemon will read them.
"""

from __future__ import annotations

from sp404d import paths

LIBRARY = "the library (library.path)"

DESCRIPTIONS: dict[str, str] = {
    "run": (
        "Run the daemon in the foreground (it never forks; systemd or launchd supervise it).\n\n"
        "Reads the config: the packaged defaults, then your file (--config FILE, else $SP404D_CONFIG, "
        f"else {paths.config_file()}) merged over them.\n\n"
        "Watches the folders in watch.folders (created if missing) and the mounted volumes under "
        "cards.mount_roots; every file that settles there is decoded, analysed and recorded.\n\n"
        "Writes the SQLite library (library.path, with a lock file beside it: one daemon or import per "
        "library), the control socket (control.socket, 0600), and the kits to a mounted SP-404MKII card "
        "(only IMPORT/<KIT>/ files and SP404D/ that sp404d wrote). Never changes or deletes your files.\n\n"
        "Logs go to standard error (JSON when it is not a terminal).\n\n"
        "Stop it with `sp404d stop`, Ctrl-C or SIGTERM: files in flight are finished or found again "
        "by the next start's walk. `sp404d status` says what it is doing."),
    "stop": ("Stop the daemon as SIGTERM would, and return once it has let go of the library.\n"
             "Reads: the control socket. Writes nothing."),
    "status": ("What the daemon is doing: state, queues, counters, rate and ETA, library totals, cards and "
               "their last sync, last errors. --follow stays attached with live progress.\n"
               "Reads: the control socket (exit 3 when no daemon answers). Writes nothing."),
    "import": ("Analyse files or folders now and wait until every file is recorded; prints a summary.\n"
               "With a daemon running, hands the paths to it over the socket and follows the job; without "
               "one, runs the same pipeline itself while holding the library's lock.\n"
               "Reads: the files under PATH (never changed). Writes: " + LIBRARY + "."),
    "export": ("One line per file location with every field of its sample and its dedupe group_id, as JSON "
               "lines or CSV.\nReads: " + LIBRARY + ". Writes: standard output, or -o FILE."),
    "search": None,  # cli.query_help(): the query language
    "similar": ("The sounds most like REF, nearest first, one row per sound (its best file), never REF or its "
                "copies. REF is a sample id, a path, or a file name (with or without extension) that only one "
                "sound has; a name several sounds share is refused with their paths. --aspect: timbre (the "
                "spectrum), envelope (attack, decay, length), pitch (notes and tonalness) or all. A one-shot's "
                "sounds are one-shots and a loop's are loops, unless --any-kind. `sp404d search like:REF` ranks "
                "the same way within whatever its other terms select.\n"
                "Reads: the running daemon's similarity index over the control socket, else " + LIBRARY +
                ". Writes nothing."),
    "kits": ("The kits, their card folders, whether they sync, and how many pads are filled.\n"
             "Reads: the config's [[kits]] and the kits kept in " + LIBRARY + ". Writes nothing."),
    "kit": ("Show or change one kit. Changes (new, set, pin, fill, alt --pick) are kept in " + LIBRARY + ", over what the "
            "config says, and reach a mounted card at its next sync."),
    "doctor": ("Check the setup and say how to fix what is wrong (exit 1 if anything is): config file, "
               "watch folders, inotify limits, ffmpeg, the daemon, library integrity and schema, disk space, "
               "mounted cards.\nReads: the config, the library (read-only), the socket. Writes nothing."),
    "failures": ("Files that could not be analysed, with their failure category and reason.\n"
                 "Reads: " + LIBRARY + ". Writes: with --retry, the library (the files are analysed again)."),
    "sync": ("Write the kits to the SP-404MKII card now (the daemon does it by itself when a card is mounted).\n"
             "Reads: " + LIBRARY + " and the card's SP404D/ manifest. Writes: IMPORT/<KIT>/NN_name.WAV "
             "(48 kHz 16-bit PCM) and SP404D/ on the card, through the daemon when one runs; touches only "
             "files sp404d wrote. --dry-run writes nothing."),
    "dupes": ("Sounds that live in more than one file: the canonical file of each, the exact copies and near "
              "duplicates, how each matched, and the bytes that could be freed (sp404d never deletes).\n"
              "Reads: " + LIBRARY + ". Writes nothing."),
    "pause": "Stop taking new files (files in flight finish). Reads and writes: the control socket only.",
    "resume": "Take new files again after `pause`. Reads and writes: the control socket only.",
    "rescan": ("Walk the watched folders now (the daemon also does it at start and every "
               "watch.rescan_minutes). Reads the folders; writes the library through the daemon."),
}

KIT_ACTIONS: dict[str, str] = {
    "new": "Make an empty kit, kept in the library (then `kit set` and `kit pin` its pads).",
    "set": "Give a pad a query ('' empties it); kept in the library.",
    "pin": "Pin a sample (a file path or a sample id) to a pad; kept in the library.",
    "delete": ("Delete a kit made with `kit new`: the library forgets it, and the files sp404d wrote for it leave "
               "a mounted card at its next sync (a file of yours in its folder stays). A kit from the config stays "
               "(a [[kits]] table of its name with sync = false in your config file replaces it and keeps it off the card); if pads of it were set here, "
               "those go and the config's definition remains."),
    "show": "Each pad's sound, its name on the card, and why it was chosen. Reads the library.",
    "fill": ("Fill the kit's empty pads (no query, no pin) with the sounds that fit best with the pads already "
             "chosen: the roles the kit lacks first (kick, snare, hats, clap, ...), each the sound nearest in feel "
             "(embedding) to the chosen pads. Each is pinned; pads with a query or a pin are never touched. A kit "
             "with no sound yet has nothing to fill around: set or pin a pad first. "
             "Reads and writes the library (through the daemon when it runs); the card follows at its next sync."),
    "alt": ("The sounds nearest to one pad's sound, within the pad's query (a pinned pad: its sound's category) "
            "and the kit's filter, never the "
            "sound itself, its copies, another layer of its drum or another pad's. --pick N pins alternative N to the pad. Reads the "
            "library; with --pick, writes it (through the daemon when it runs): the pin replaces the pad's query."),
}


def settings_in_effect(explicit_config: str | None) -> str:
    """The lines `run --help` ends with: what this daemon would read, watch and write."""
    from sp404d import config as config_mod
    from sp404d.errors import Sp404dError

    user = config_mod.user_config_path(explicit_config)
    try:
        cfg = config_mod.load(explicit_config)
    except Sp404dError as e:
        return f"with your settings now:\n  config:  {user}: {e}"
    lines = [
        "with your settings now:",
        f"  config:  {' + '.join(cfg.source)}" + ("" if user else f" (no {paths.config_file()})"),
        *(f"  watches: {folder}" for folder in cfg.watch_folders),
        f"  library: {cfg.library_path}",
        f"  socket:  {cfg.socket_path}",
        f"  cards:   volumes under {', '.join(str(r) for r in cfg.mount_roots)}",
    ]
    return "\n".join(lines)
