"""The SP-404MKII card: detection, file names, conversion, and the pull-safe sync."""
