"""A refused signing PIN answers with the same form again, not an error page.

`signing.service.open_signer` counts a wrong PIN (delay, then lock) and raises a domain error
whose message says how many attempts are left, how long to wait or that the key is locked.
A signing route catches it with `refused(...)`, then renders its own page with the message
beside the PIN field and the other inputs kept; the status code stays the error's (422, 403,
429 with Retry-After), and API clients still get the JSON error.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import record
from services.errors import DomainError, TooManyAttempts
from web import i18n


@dataclass(frozen=True)
class PinError:
    form: str  # which form on the page failed ("sign", "issue", …)
    message: str
    status_code: int
    retry_after: int | None = None

    def apply(self, response: Response) -> Response:
        if self.retry_after is not None:
            response.headers["Retry-After"] = str(self.retry_after)
        return response


def browser_form(request: Request) -> bool:
    """A form posted by a page (API clients and JSON bodies keep their JSON errors)."""
    from web.app import _wants_html

    return _wants_html(request)


async def refused(session: AsyncSession, exc: DomainError, *, form: str) -> PinError:
    """The attempt's outcome for the page. The failure count is already committed by
    open_signer; an attempt refused outright (locked, waiting) is recorded here, as the
    error handler would have."""
    await session.commit()  # only reads before open_signer; its counted failure is committed
    if exc.audit is not None:
        await record(session, **exc.audit)  # type: ignore[arg-type]
    return PinError(
        form=form,
        message=i18n.pick(exc.message, exc.message_en),
        status_code=exc.status_code,
        retry_after=exc.retry_after if isinstance(exc, TooManyAttempts) else None,
    )
