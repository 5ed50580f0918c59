"""sockcheck's own tests (pytester-based); run with ``pytest selftest -n 2``."""
