"""The garbage collector of a long-running process (`satreps serve`, `satreps worker`).

CPython's cycle collector runs a young collection every 700 net allocations of container
objects, and each older collection walks every object that survived, start-up's included
(the schema, the mappers, the imported modules: most of the heap, and never garbage).
Serving a folder of 3,000 small files, the embedded server ran 1,610 collections taking
2.2 s; frozen and collected every 50,000 allocations, 11 taking 0.56 s
(bench/upload_folder.py, see README). Reference counting still frees everything that is
not in a cycle at once; cycles wait a little longer.

This is the `gc.freeze` pattern of Python's docs, applied once start-up is over.
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # allocations between young collections (CPython's default: 700)
MIDDLE = 20  # young collections between middle ones (default: 10)
OLD = 10  # middle collections between full ones (default: 10)


def settle_heap() -> None:
    """Collect what start-up left over, freeze the rest (it stays for the process's life),
    and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
