"""The transactional outbox: commands for Temporal written in the same transaction as the change
they follow, and delivered by the relay in the worker (workflows/relay.py)."""
