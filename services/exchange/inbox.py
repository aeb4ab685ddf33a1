"""The exchange inbox: the worker takes in every package partners drop into it.

Each file is handled once: moved to `done/` when taken in, to `failed/` (beside a `.txt` with
the reason) when refused; a file still being written by its sender (a name starting with a dot,
as our own drop writes them) is left for the next look.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from services.aio import wait_set
from services.config import Settings
from services.db import Database
from services.errors import DomainError
from services.exchange.service import receive

log = logging.getLogger(__name__)


def _move(path: Path, folder: str) -> Path:
    target_dir = path.parent / folder
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    os.replace(path, target)
    return target


async def sweep(database: Database, settings: Settings) -> list[tuple[str, str]]:
    """Handle every file waiting in the inbox now: [(file name, "document" | "status" | "refused")]."""
    inbox = settings.inbox_dir
    if not inbox.is_dir():
        return []
    results: list[tuple[str, str]] = []
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            kind = await receive(database, settings, path.read_bytes())
        except DomainError as exc:
            refused = _move(path, "failed")
            refused.with_suffix(refused.suffix + ".txt").write_text(str(exc.message), encoding="utf-8")
            log.warning("exchange inbox: %s refused: %s", path.name, exc.message)
            results.append((path.name, "refused"))
            continue
        _move(path, "done")
        results.append((path.name, kind))
    return results


async def run_inbox(database: Database, settings: Settings, *, stop: asyncio.Event) -> None:
    """Look into the inbox every `exchange_poll_seconds` until `stop` is set."""
    while not stop.is_set():
        try:
            await sweep(database, settings)
        except Exception:  # the database away for a moment: the next look tries again
            log.warning("exchange inbox: look failed", exc_info=True)
        await wait_set(stop, settings.exchange_poll_seconds)
