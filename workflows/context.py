"""What activities need from the process: settings and the database, given once to the worker."""

from __future__ import annotations

from dataclasses import dataclass

from services.config import Settings
from services.db import Database


@dataclass(frozen=True)
class ActivityContext:
    settings: Settings
    database: Database
