"""Incoming documents (văn bản đến): registration, direction, handling, sender statuses."""
