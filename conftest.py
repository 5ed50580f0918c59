"""Plugin wiring: the sockcheck pytest plugin lives in fixtures/plugin.py."""

pytest_plugins = ["fixtures.plugin"]
