"""Deadlines shared by every domain: the ladder (reminder → overdue → escalation), the table of
notices sent, and the functions the tracked-object workflow (workflows/kernel.py) calls."""
