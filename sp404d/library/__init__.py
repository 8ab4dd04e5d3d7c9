"""The library: SQLite in WAL mode, written by exactly one thread (writer.py), read by anyone."""
