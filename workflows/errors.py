"""Domain errors raised inside activities become non-retryable application errors.

An activity that calls `services/` may meet a `DomainError` (NotFound, Forbidden, InvalidInput,
Conflict…): retrying cannot change the answer, so the worker's interceptor turns it into
`ApplicationError(message, type=<class name>, non_retryable=True)` for every activity at once.
The workflow sees an `ActivityError` whose cause carries that type, and the Temporal UI shows the
failure with the clerk's message. Any other exception stays retryable under the activity's
retry policy (workflows/retry.py), which caps the attempts.
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from services.errors import DomainError


def as_application_error(error: DomainError) -> ApplicationError:
    """The non-retryable failure that stands for `error` in Temporal (English message, Vietnamese in details)."""
    return ApplicationError(error.message_en, error.message, type=type(error).__name__, non_retryable=True)


class _DomainErrors(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except DomainError as error:
            raise as_application_error(error) from error


class DomainErrorInterceptor(Interceptor):
    """Worker interceptor: every activity's DomainError fails it at once, without retries."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _DomainErrors(next)
