# sockcheck: one entry point for set-up, the conformance run and the project's tests.
#   make conformance   run every check on every bundled target (pytest -n auto)
#   make test          the self-tests, then the bundled conformance run
#   make report        the Allure report of the last `make conformance`, one HTML file that opens from
#                      file:// (reports/allure-report/index.html); RESULTS=DIR for another run's results
#   make report-demo   a run with a known failure, its report, and a screenshot proving it renders
# conformance and test create .venv, install the pinned requirements, build the C targets and
# install the Debian packages they need (as root; otherwise they say what to run).

PYTHON  ?= python3
VENV    := .venv
PYTEST  := $(VENV)/bin/pytest
STAMP   := $(VENV)/.requirements-installed
DEBIAN_PACKAGES := gcc make libc6-dev util-linux strace

# The report: `sockcheck report` (sockcheck/report.py) installs Allure 3's command line, pinned by
# reports-tool/package-lock.json, into the per-user cache on first use, and writes the report as one file
# beside the results (RESULTS=reports/demo/allure-results gives reports/demo/allure-report/index.html).
SOCKCHECK      := $(VENV)/bin/sockcheck
ALLURE_RESULTS := reports/allure-results
RESULTS        = $(ALLURE_RESULTS)
DEMO           := reports/demo

.PHONY: conformance test selftest build bytecode deps venv clean report report-demo report-tool node browser

# $(call need_debian,COMMAND,PACKAGES): install PACKAGES when COMMAND is missing (as root), else say how.
need_debian = command -v $(1) >/dev/null 2>&1 || { \
	if [ "$$(id -u)" -eq 0 ]; then \
		echo "installing Debian packages: $(2)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2); \
	else \
		echo "this needs $(1). As root, run: apt-get install -y $(2)" >&2; exit 1; \
	fi; }

conformance: build
	$(PYTEST) -n auto --alluredir=$(ALLURE_RESULTS) --clean-alluredir \
		--conformance-md=reports/conformance.md --junitxml=reports/junit.xml

test: build
	$(PYTEST) selftest -n auto
	$(PYTEST) -n auto

selftest: build
	$(PYTEST) selftest -n auto

build: deps venv
	$(MAKE) -s -C targets/c
	$(MAKE) -s -C targets/faulty
	$(MAKE) -s bytecode

# Byte-compile the harness, the checks and the self-tests once here, as pip does for what it
# installs, also when PYTHONDONTWRITEBYTECODE is set: otherwise each of the -n auto workers
# compiles them again (pytest's assertion rewriting included), about 0.2 s of CPU apiece.
# With that setting Python only reads these files at run time, and ignores any whose source
# has changed since.
# Needs the venv (build makes it); bench/run calls it for the trees it measures, with VENV set.
bytecode:
	env -u PYTHONDONTWRITEBYTECODE $(VENV)/bin/python -m compileall -q sockcheck fixtures suites selftest targets bench conftest.py
	env -u PYTHONDONTWRITEBYTECODE $(PYTEST) --collect-only -q suites selftest >/dev/null

# Any results path, relative or absolute; offline once the command line is installed.
report: report-tool
	@test -d "$(RESULTS)" || { echo "no $(RESULTS): run make conformance first, or make report RESULTS=DIR" >&2; exit 1; }
	$(SOCKCHECK) report "$(RESULTS)"

# A run in which one faulty server declares nothing (a --target one-liner), so its
# violations are real failures; then its report and a screenshot of a failing case,
# taken from file:// as a downloaded report is opened.
report-demo: build report-tool browser
	rm -rf $(DEMO)
	-$(PYTEST) -n auto --target "linger-zero=targets/faulty/bin/linger_zero {port} {host}" \
		--target "c-epoll=targets/c/bin/epoll_echo {port} {host}" -k "half-close or close or echo" \
		--alluredir=$(DEMO)/allure-results --conformance-json=$(DEMO)/conformance.json \
		--conformance-md=$(DEMO)/conformance.md --junitxml=$(DEMO)/junit.xml --evidence-dir=$(DEMO)/evidence
	$(SOCKCHECK) report $(DEMO)/allure-results
	$(VENV)/bin/python scripts/report-screenshot $(DEMO)/allure-report --case "FIN, not RST [linger-zero]" \
		--out $(DEMO)/failing-case.png

# What the report needs besides sockcheck: Node.js and npm (the command installs Allure with them).
report-tool: node venv

# Node.js (for Allure 3) and Chromium (for the screenshot) from Debian, as root like the other
# dependencies; otherwise the line to run.
node:
	@$(call need_debian,npm,nodejs npm)

browser:
	@$(call need_debian,chromium,chromium)

venv: $(STAMP)

# The editable install maps sockcheck.fixtures to fixtures/, and the catalogue and the bundled targets
# to suites/ and targets/ (sockcheck.suites, sockcheck.targets),
# through setuptools' import finder; the pinned requirements come first, so nothing else is fetched.
$(STAMP): requirements.txt pyproject.toml Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# cc, make and prlimit (util-linux) are what the targets and the launcher need.  strace traces the
# replay of a failing case (fixtures/trace.py): installed as root, optional otherwise.
deps:
	@if [ "$$(id -u)" -eq 0 ]; then $(call need_debian,strace,strace); \
	else command -v strace >/dev/null 2>&1 || echo "note: without strace, failures get no system-call trace" >&2; fi
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

# Performance and reliability (issue 8); both print a table and write reports/*.json.
#   make bench   bench/run: matrix wall time (-n auto/2/0), launch-to-ready, c10k vs a C client, CPU split
#   make soak    bench/soak: 20 default runs with one core kept busy; flakes and leftovers (30-60 min)
.PHONY: bench soak

bench: build
	$(MAKE) -s -C bench
	$(VENV)/bin/python bench/run

soak: build
	$(VENV)/bin/python bench/soak

# The interop run (docs/interop.md): the catalogue against real servers from Debian packages
# and idiomatic servers in Java, Node and Go (targets/interop.toml). Not part of conformance or
# test: it installs more, and its findings are the servers', not the suite's. The JVM starts
# for every case, so the run keeps to INTEROP_WORKERS; the page is written even when the run
# fails, and make then exits with the run's status.
#   make interop   install what is missing (as root), build, run, write docs/interop.md
.PHONY: interop interop-deps

INTEROP_WORKERS ?= 2
INTEROP_JSON    := reports/interop.json
INTEROP_RUN     := $(PYTEST) -n $(INTEROP_WORKERS) --targets-file targets/interop.toml \
	--conformance-json=$(INTEROP_JSON) --conformance-md=reports/interop.md
# command:package pairs; inetd is looked for in sbin, which a non-root PATH may lack.
INTEROP_TOOLS   := socat:socat ncat:ncat tcpserver:ucspi-tcp busybox:busybox javac:default-jdk-headless \
	node:nodejs go:golang-go inetd:openbsd-inetd

interop: deps venv interop-deps
	$(MAKE) -s -C targets/interop
	status=0; $(INTEROP_RUN) || status=$$?; \
	$(VENV)/bin/python scripts/gen-interop-doc --json $(INTEROP_JSON) --command "$(INTEROP_RUN)" && exit $$status

interop-deps:
	@missing=""; \
	for pair in $(INTEROP_TOOLS); do \
		PATH="$$PATH:/usr/sbin:/sbin" command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -eq 0 ]; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing; \
		else \
			echo "make interop needs:$$missing. As root, run: apt-get install -y$$missing" >&2; exit 1; \
		fi; \
	fi
