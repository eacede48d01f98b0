"""The web shop's RAW layer: 7 collections of documents that imitate a live site.

`build_documents` makes a deterministic history in memory; `write_once` stores it;
`live_updates` keeps the site alive (inserts plus realistic updates of existing documents).
"""

from generator.shop.build import COLLECTIONS, build_documents
from generator.shop.faults import FAULT_KINDS, apply_fault
from generator.shop.live import live_updates
from generator.shop.store import write_once

__all__ = [
    "COLLECTIONS",
    "FAULT_KINDS",
    "apply_fault",
    "build_documents",
    "live_updates",
    "write_once",
]
