"""The activity retry policies, one per kind of work, shared by every workflow.

Every policy starts after 1–2 s, doubles, waits at most 5 minutes between attempts and gives up
after a bounded number of attempts: a failure that outlives it shows in the Temporal UI (the
workflow fails with the last error) instead of retrying unseen forever. Domain errors never
retry at all (workflows/errors.py). Changing a policy changes only an attribute of the
"schedule activity" command, which replay does not compare: recorded histories stay valid.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

MAX_INTERVAL = timedelta(minutes=5)


def _policy(attempts: int, initial: timedelta = timedelta(seconds=1)) -> RetryPolicy:
    return RetryPolicy(initial_interval=initial, backoff_coefficient=2.0, maximum_interval=MAX_INTERVAL, maximum_attempts=attempts)


# Short database reads and writes (snapshots, notices, numbering): rides out a database restart
# or a lock held for a while — about 2 hours of attempts.
DATABASE = _policy(30)
# Delivery to another body and notices to recipients: the recipient side may be busy longer
# (about 4 hours).
DELIVERY = _policy(50)
# DOCX→PDF through LibreOffice: a broken document will not convert on the tenth try either.
RENDER = _policy(10, initial=timedelta(seconds=2))
# Signature validation (OCSP, CRL and time-stamp services may be briefly away).
VALIDATION = _policy(10, initial=timedelta(seconds=2))
# The audit checkpoint: the schedule runs it again anyway.
CHECKPOINT = _policy(20)
