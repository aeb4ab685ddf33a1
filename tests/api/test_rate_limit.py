"""Per-token rate limits (issue 17): a script that loops too fast gets 429 with Retry-After; other
tokens and browsers are not slowed."""

from __future__ import annotations

import pytest

from services.errors import TooManyAttempts
from tests.api.test_incoming_api import PROBLEM, _bearer
from web.rate_limit import RateLimiter


async def test_a_token_over_its_rate_gets_429_with_retry_after_and_others_do_not(demo_db_sqlite, settings, client_for) -> None:
    settings.api_token_requests_per_minute = 3
    api = await client_for(demo_db_sqlite)
    greedy, other = await _bearer(demo_db_sqlite, "mai.tran"), await _bearer(demo_db_sqlite, "thu.le")
    assert [(await api.get("/api/v1/incoming", headers=greedy)).status_code for _ in range(3)] == [200, 200, 200]
    refused = await api.get("/api/v1/incoming", headers=greedy)
    assert refused.status_code == 429 and refused.headers["content-type"] == PROBLEM
    assert int(refused.headers["retry-after"]) >= 1
    assert "quá nhiều yêu cầu" in refused.json()["detail_vi"] and "too many requests" in refused.json()["detail_en"]
    assert (await api.get("/api/v1/incoming", headers=other)).status_code == 200


def test_the_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    for _ in range(60):
        limiter.take(7)
    with pytest.raises(TooManyAttempts) as refused:
        limiter.take(7)
    assert refused.value.retry_after == 1
    now[0] += 1.0  # one request a second comes back
    limiter.take(7)
    limiter.take(8)  # another token has its own bucket
