# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APT_PACKAGES := ngspice libngspice0 libngspice0-dev espeak-ng flite

.PHONY: setup system-deps demo test bench clean micropower-model

BACKPORTS := deb http://deb.debian.org/debian bookworm-backports main

# KiCad 9 (kicad-cli checks the --kicad schematics in tests/test_kicad.py): from bookworm-backports
# on Debian bookworm (the source line is added if absent), from the distribution elsewhere.
system-deps:
	@{ command -v ngspice && command -v espeak-ng && command -v flite && ldconfig -p | grep -q 'libngspice.so '; } \
	  >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES); }
	@command -v kicad-cli >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); TARGET=; \
	  if grep -q bookworm /etc/os-release 2>/dev/null; then TARGET="-t bookworm-backports"; \
	    grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/ || \
	      echo "$(BACKPORTS)" | $$SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$TARGET \
	    --no-install-recommends kicad; }

$(BIN)/r2nn: setup.cfg pyproject.toml $(shell find r2nn_compiler -name "*.py" -o -name "*.lark")
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q ".[test]"
	touch $@

setup: system-deps $(BIN)/r2nn

demo: setup
	$(BIN)/r2nn check examples/toy/toy.r2nn
	$(BIN)/python examples/toy/make_signals.py build/toy-signals
	$(BIN)/r2nn compile examples/toy/toy.r2nn -o build/toy
	$(BIN)/r2nn verify examples/toy/toy.r2nn build/toy --signals build/toy-signals \
	    --json build/toy-verify.json --plot build/toy-plots
	$(BIN)/python examples/run_demo.py tactile --verify-clips 10
	@echo "demo done: toy deck in build/toy (plots in build/toy-plots); tactile demo in examples/tactile/build"

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/bench_reference.py
	$(BIN)/python bench/bench_compile.py
	$(BIN)/python bench/bench_train.py
	$(BIN)/python bench/fuzz.py

# examples/tactile/micropower.r2nn: the shipped tactile network, its layer refitted to the
# passive diode cell's law (docs/diode-law.md); ~5 min
micropower-model: setup
	$(BIN)/python examples/tactile/make_micropower.py

clean:
	rm -rf $(VENV) build *.egg-info
