"""Plugin wiring: the sockcheck pytest plugin lives in fixtures/plugin.py.

``make`` installs the project into .venv (``pip install -e .``), which
registers the plugin as the ``sockcheck`` pytest11 entry point.  pytest then
loads it before parsing the command line, so ``--targets-file /elsewhere/x.toml``
cannot be mistaken for a test path that moves the rootdir away from this
checkout.  In a bare checkout without that install, this conftest loads it.
"""

from importlib.metadata import entry_points

if not any(ep.name == "sockcheck" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["fixtures.plugin"]
