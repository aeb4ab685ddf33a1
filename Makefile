# Liên Thông — two commands for a newcomer: `make run` and `make test`.
# Both create .venv when missing, install the project, and (as root) the Debian packages it needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEB_PACKAGES := libreoffice-writer-nogui python3-uno fonts-noto-core fonts-liberation2 poppler-utils \
	libnss3-tools qpdf softhsm2 chromium postgresql postgresql-client nginx-light

.PHONY: run test deps venv

run: deps venv
	$(BIN)/lienthong dev

# Three pytest-xdist workers on the CI machine's 2 cores: many tests wait on Temporal, LibreOffice,
# a browser or a killed process, so two workers kept the cores busy only 59 % of the run (643 s);
# three keep them 93 % busy (588 s). Which tests share a worker: tests/xdist_groups.py.
# The run ends with the 15 slowest tests.
TEST_WORKERS ?= 3

test: deps venv
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=15

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Missing Debian packages: installed when we are root, otherwise the exact command is printed.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian packages: $$missing"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -q && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
		else \
			echo "Missing Debian packages. Run as root:"; \
			echo "  sudo apt-get install -y $$missing"; \
			exit 1; \
		fi; \
	fi
