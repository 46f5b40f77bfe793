"""Fixtures for these tests: ``seeded_settings``, a data home with the hand-made tables of tests/queries/seed.py."""

from tests.queries.seed import seeded_settings  # noqa: F401 (a fixture, registered by importing it here)
