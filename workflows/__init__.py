"""Temporal workflows, their activities, the worker and client helpers."""
