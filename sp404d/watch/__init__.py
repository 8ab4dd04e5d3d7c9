"""Watching: filesystem events and walks produce *hints* ("look at this path"), never decisions."""
