"""Intake: decide what needs analysing, feed the worker pool, hand results to the writer."""
