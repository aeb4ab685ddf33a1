"""Organisation directory: organisations across levels, their units, people and their roles."""
