"""Per-token rate limits of the API: a token bucket per API token, in this web process.

A script that loops too fast gets 429 with `Retry-After` (the seconds until a request is allowed
again) instead of crowding out the clerks. Kept in memory: each web process counts its own share,
as nginx's `limit_req` does; a restart forgets, which only errs towards letting a script through.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from services.errors import TooManyAttempts
from services.i18n import _l


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    per_minute: int
    clock: Callable[[], float] = time.monotonic
    buckets: dict[int, _Bucket] = field(default_factory=dict)

    def take(self, token_id: int) -> None:
        """Count one request of `token_id`; TooManyAttempts when its bucket is empty."""
        now = self.clock()
        rate = self.per_minute / 60.0
        bucket = self.buckets.get(token_id) or _Bucket(float(self.per_minute), now)
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        self.buckets[token_id] = bucket
        if bucket.tokens < 1:
            wait = math.ceil((1 - bucket.tokens) / rate)
            raise TooManyAttempts(
                _l("This API token sent too many requests. Wait {seconds} s, then send again.", seconds=wait), retry_after=wait
            )
        bucket.tokens -= 1
