"""The PAdES levels we sign at, in a module of their own: the command line offers them without
loading pyHanko."""

from __future__ import annotations

from typing import Literal

Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
LEVELS: tuple[Level, ...] = ("B-B", "B-T", "B-LT", "B-LTA")
