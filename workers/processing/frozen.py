"""Imported last by the sandbox's fork server (sandbox.PRELOAD): everything the server has
loaded moves to the garbage collector's permanent generation, so a forked child's
collections do not touch (and copy) those pages (the gc.freeze pattern of Python's docs)."""

import gc

gc.freeze()
