"""Append-only events that live pages follow: written with the change, fanned out by a hub."""
