"""Plugin wiring: the sockcheck pytest plugin lives in fixtures/plugin.py.

In a checkout, pytest finds this file in the rootdir and loads the plugin
from it.  The installed ``sockcheck`` command (sockcheck/cli.py) loads it with
``-p`` instead, before the command line is parsed; the plugin is no pytest11
entry point, so a pytest run of another project in the same environment
never loads it.
"""

pytest_plugins = ["sockcheck.fixtures.plugin"]
