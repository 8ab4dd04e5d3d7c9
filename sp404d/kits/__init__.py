"""Kits: the query language, search, and 16-pad kits chosen from the library."""
