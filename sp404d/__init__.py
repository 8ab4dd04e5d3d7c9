"""sp404d: a sample-library daemon for the Roland SP-404MKII."""

__version__ = "0.1.0"
