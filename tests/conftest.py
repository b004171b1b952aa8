"""Shared pytest plugins. Append further plugin modules to the list."""

pytest_plugins = ["tests.testbed.fixtures", "tests.prefect_fixtures", "tests.postgres"]
