"""sockcheck: a conformance suite for TCP and UDP servers.

This package is the core, free of pytest:

- ``sockcheck.launch``: manifest, launcher, builds, sandbox, isolation, ports, process tree;
- ``sockcheck.net``: the clients, seeded payloads, the socket table, the serving probe;
- ``sockcheck.capture``: the capture on the worker's loopback, pcap files, the packet ladder;
- ``sockcheck.judgments``: each check's decision, a pure function of plain values;
- ``sockcheck.verdicts``: the catalogue, findings, the verdict record, gating, renderers, merge;
- ``sockcheck.cli``, ``sockcheck.report``: the ``sockcheck`` command (run, merge, report).

The pytest side (plugin, fixtures, hooks) is ``sockcheck.fixtures`` (the checkout's
``fixtures/`` folder); the checks are ``suites/``.  Dependencies point one way:
suites -> fixtures -> this core, which imports neither pytest, the fixtures nor the suites
(selftest/test_layout.py holds it to that).
"""

__version__ = "0.1.0"
