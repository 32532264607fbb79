"""Shared pytest fixtures. Each area keeps its fixtures in its own ``fixtures_*.py`` module."""

pytest_plugins = [
    "tests.fixtures_data",
    "tests.fixtures_hub",
]
