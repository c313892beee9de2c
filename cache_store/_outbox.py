"""What the shared level could not take while it was down, shared once it is back: payloads from
this host's disk, other kinds through the domain package that keeps them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from ._index import row_of
from ._level import payload_rel
from ._payloads import PayloadError, decode
from ._store import Store

__all__ = ["Republisher", "share_pending"]

log = logging.getLogger("cache_store")

# How a domain package shares again what its outbox kind held: the keys now shared (or gone).
Republisher = Callable[[Sequence[str]], Sequence[str]]


def share_pending(store: Store, republish: Mapping[str, Republisher] | None = None) -> int:
    """Share what was stored while the shared level was down; returns the entries still
    waiting (0 without a shared level)."""
    shared = store.shared
    if shared is None:
        return 0
    waiting = shared.held()
    if waiting and shared.available:
        kinds: dict[str, list[str]] = {}
        for kind, key in waiting:
            kinds.setdefault(kind, []).append(key)
        for kind, keys in kinds.items():
            if kind in store.layers:
                done: Sequence[str] = [k for k in keys if _share_payload(store, kind, k)]
            elif republish and kind in republish:
                done = republish[kind](keys)
            else:
                continue
            for key in done:
                shared.release(kind, key)
        waiting = shared.held()
    if waiting:
        log.warning(
            "%d cache entries are not shared yet (the shared cache was unreachable); they "
            "stay on this host and `cpwx cache push` shares them",
            len(waiting),
        )
    return len(waiting)


def _share_payload(store: Store, layer: str, digest: str) -> bool:
    """One held entry, read back from the local disk; True once shared or gone."""
    assert store.shared is not None
    rel = payload_rel(layer, digest)
    try:
        raw = store.local.read(rel)
        if raw is None:
            return True
        document, checksum = decode(raw)
        row = row_of(document, rel, len(raw), checksum)
    except (PayloadError, KeyError, TypeError, ValueError):
        return True  # removed or damaged here since: nothing to share
    return store.shared.write(row, raw)
