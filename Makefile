# riskchart — two commands on a fresh Debian/Ubuntu machine:
#   make        installs what is missing, lints and builds every chart into out/
#   make test   the same set-up, then the whole test suite
#
# System packages come from apt-get when run as root; otherwise the exact
# command is printed and make stops.

PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
RUN_PKGS := graphviz fonts-noto-cjk mupdf-tools
TEST_PKGS := $(RUN_PKGS) git poppler-utils ghostscript chromium chromium-driver libreoffice-writer-nogui libreoffice-calc-nogui

.PHONY: all setup system system-test lint build test check test-fast wheel-check mutation bench golden clean

all: build

setup: system $(STAMP)

# Install only what is absent, so repeated runs stay fast and offline.
define need_packages
	@missing=""; \
	for pkg in $(1); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "缺少系统软件包:$$missing —— 请按 README「支持的系统」一节安装 Graphviz 和中文字体（Windows 请使用 WSL）。"; \
	  elif [ "$$(id -u)" = 0 ]; then \
	    echo "安装系统软件包:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "缺少系统软件包，请先运行："; echo "  sudo apt-get update && sudo apt-get install -y$$missing"; exit 2; \
	  fi; \
	fi
endef

system:
	$(call need_packages,$(RUN_PKGS))

system-test:
	$(call need_packages,$(TEST_PKGS))

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# compat: a plain path entry; the default editable finder adds ~15 ms to every command's start
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
	@touch $(STAMP)

lint: setup
	$(BIN)/riskchart lint charts/

build: lint
	$(BIN)/riskchart build charts/ -o out/

# The tests run in parallel, one worker process per core (pytest-xdist;
# worksteal: a worker that runs out takes tests queued for the other);
# `make test PARALLEL=` runs them in one process.  Only these two targets
# turn it on: `make mutation` runs pytest inside mutmut, without it.
PARALLEL ?= -n auto --dist worksteal

test: system-test setup check
	$(BIN)/python -m pytest -q $(PARALLEL)

# Build the wheel, install it into a fresh venv outside the repository and run
# every command on a temporary project (what an editable install cannot show).
wheel-check: setup
	bash .ci/wheel-check

# Static checks, also run by `make test`.
check: setup
	$(BIN)/ruff check src tests
	$(BIN)/mypy

# The suite without the tests marked slow (every real chart through Graphviz).
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow" $(PARALLEL)

# Mutation testing of the core modules ([tool.mutmut] in pyproject.toml); slow:
# tens of minutes.  Tests that start `python -m riskchart` import the mutants
# through PYTHONPATH.  `$(BIN)/mutmut results` lists what survived.
# MUTANTS='riskchart.draw.wrap.*' runs (again) only the mutants of one module;
# SAMPLE=40 only 40 mutants of each module, drawn at random with a fixed seed
# (MUTATION_SEED=N for another; tests/mutation_sample.py); on a fresh mutants/
# a first run that matches no mutant makes them and collects the stats.
# FINISH=0.08 finishes a run cut short: 8 % (at least 10) of each module's
# mutants still unchecked, drawn at random, and the score by strata.
MUTMUT := MUTANTS='$(MUTANTS)' PYTHONPATH=$(CURDIR)/mutants/src nice -n 19 $(BIN)/mutmut run --max-children 2
mutation: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,mutation]' --config-settings editable_mode=compat
	@# the folder must exist when Python starts, or it caches the PYTHONPATH entry as missing
	mkdir -p mutants/src
ifdef SAMPLE
	ls mutants/src/riskchart/*.meta >/dev/null 2>&1 || $(MUTMUT) 'riskchart.no_such_module.*'
	names=$$($(BIN)/python tests/mutation_sample.py $(SAMPLE)) && test -n "$$names" && $(MUTMUT) $$names
	$(BIN)/python tests/mutation_score.py --sampled
else ifdef FINISH
	names=$$($(BIN)/python tests/mutation_sample.py --unchecked $(FINISH) 10) && test -n "$$names" && $(MUTMUT) $$names
	$(BIN)/python tests/mutation_score.py --stratified
else
	$(MUTMUT) $(foreach m,$(MUTANTS),'$(m)')
	$(BIN)/python tests/mutation_score.py
endif

bench: setup
	$(BIN)/python tests/bench/bench.py

# Rewrite the golden DOT files after an intended layout change; review the diff.
golden: setup
	RISKCHART_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/draw/test_layout.py tests/draw/test_pages.py -k golden

clean:
	rm -rf $(VENV) mutants out/*.svg out/*.pdf out/*.png out/*.dot out/*.html out/*.csv out/*.xlsx out/*.docx out/.riskchart-*
