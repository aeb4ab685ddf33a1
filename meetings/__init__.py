"""Paperless meetings across levels: scheduling, invitations, attendance, agenda, speakers, polls.

Modules split by domain: `models` (tables), `access` (who may do what), `scheduling`
(preparation and lifecycle), `agenda`, `attendance`, `speakers`, `polls`, `video`,
`invitations`, `live` (events and snapshots), `service` (the read API for minutes).
"""
