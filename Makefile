# sockcheck: one entry point for set-up, the conformance run and the project's tests.
#   make conformance   run every check on every bundled target (pytest -n auto)
#   make test          the self-tests, then the bundled conformance run
# Both create .venv, install the pinned requirements, build the C targets and
# install the Debian packages they need (as root; otherwise they say what to run).

PYTHON  ?= python3
VENV    := .venv
PYTEST  := $(VENV)/bin/pytest
STAMP   := $(VENV)/.requirements-installed
DEBIAN_PACKAGES := gcc make libc6-dev util-linux

.PHONY: conformance test selftest build deps venv clean

conformance: build
	$(PYTEST) -n auto

test: build
	$(PYTEST) selftest -n auto
	$(PYTEST) -n auto

selftest: build
	$(PYTEST) selftest -n auto

build: deps venv
	$(MAKE) -s -C targets/c
	$(MAKE) -s -C targets/faulty

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# cc, make and prlimit (util-linux) are what the targets and the launcher need.
deps:
	@missing=""; \
	for tool in cc make prlimit; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -eq 0 ]; then \
			echo "installing Debian packages for:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES); \
		else \
			echo "sockcheck needs:$$missing. As root, run: apt-get install -y $(DEBIAN_PACKAGES)" >&2; exit 1; \
		fi; \
	fi

clean:
	$(MAKE) -s -C targets/c clean
	$(MAKE) -s -C targets/faulty clean
	rm -rf reports
