"""The public JSON API, version 1 (`/api/v1`): the pages' actions for integrators, mobile apps
and other systems — the same service functions and access rules as the pages, JSON in and out,
errors as RFC 9457 problem details, idempotency keys, revisions, cursors. Guide: docs/api.md."""
