"""Demo data: the demo organisations and people (`directory`) and each domain's sample
documents, meetings and reports, seeded through the real services and workflows.

Only the command line (`lienthong dev`, `seed-demo`) and the tests import this package; the
import contract in pyproject.toml keeps it that way.
"""
