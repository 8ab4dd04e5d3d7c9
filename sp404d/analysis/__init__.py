"""Analysis: pure functions run in worker processes. Path in, plain result out, no DB access."""
