"""Tracked tasks (nhiệm vụ) with owners, due dates, progress, reminders and escalation."""
