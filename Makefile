# vislang: the single entry point for people and CI. `make help` lists the targets.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.vislang-deps
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help venv build test test-rust test-python test-isa test-wheel wheel docs lint lint-rust lint-python format bench bench-full bench-report demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

venv: $(STAMP) ## create $(VENV) and install the Python dependencies
$(STAMP): requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements-dev.txt
	touch $(STAMP)

build: venv ## build the Rust extension in release mode into $(VENV)
	$(VENV)/bin/maturin develop --release --quiet

test: test-rust test-python test-isa ## cargo tests of the core crate + pytest + every ISA level

test-rust: ## cargo tests of the pure-Rust core
	cargo test --release

test-python: build ## pytest (unit, property, sklearn-contract tests, bench smoke run)
	$(PY) -m pytest tests
	VISLANG_BENCH_SCALE=smoke $(PY) -m pytest benches --benchmark-disable -q

# The kernels are compiled for three instruction-set levels (rust/vislang-core/src/isa.rs);
# test-rust and test-python run the widest one this CPU has, test-isa each lower one too.
ISA_LEVELS ?= scalar avx2 avx512
ISA_PYTESTS ?= tests/vocab tests/bovw tests/losses tests/semantics/test_skipgram_step.py \
	tests/semantics/test_skipgram.py tests/test_config.py tests/test_fork.py
test-isa: build ## Rust + Python kernel tests once per VISLANG_ISA level (ISA_LEVELS)
	@for isa in $(ISA_LEVELS); do \
	  echo "== VISLANG_ISA=$$isa"; \
	  VISLANG_ISA=$$isa cargo test --release -q || exit 1; \
	  VISLANG_ISA=$$isa $(PY) -m pytest -q $(ISA_PYTESTS) || exit 1; \
	done

lint: lint-rust lint-python ## all linters
lint-rust:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
lint-python: build
	$(PY) -m ruff check python tests benches
	$(PY) -m ruff format --check python tests benches
	$(VENV)/bin/lint-imports
	$(PY) -m mypy python/vislang
	$(PY) -m mypy.stubtest vislang._core

format: venv ## format Rust and Python sources
	cargo fmt --all
	$(PY) -m ruff format python tests benches
	$(PY) -m ruff check --fix python tests benches

bench: build ## run the benchmarks (vislang vs peers) into .benchmarks/latest.json
	mkdir -p .benchmarks
	$(PY) -m pytest benches --benchmark-json=.benchmarks/latest.json --benchmark-min-rounds=1 -q

bench-full: build ## K="pytest -k expression": those groups at the issues' sizes, merged into .benchmarks/latest.json
	mkdir -p .benchmarks
	VISLANG_BENCH_SCALE=full $(PY) -m pytest benches -k "$(K)" --benchmark-json=.benchmarks/full.json --benchmark-min-rounds=1 -q
	$(PY) benches/merge.py .benchmarks/latest.json .benchmarks/full.json

bench-report: ## regenerate BENCHMARKS.md from .benchmarks/latest.json
	$(PY) benches/report.py .benchmarks/latest.json BENCHMARKS.md

wheel: venv ## manylinux2014 abi3 wheel + sdist into target/wheels (maturin --zig), size and contents listed
	rm -rf target/wheels
	$(VENV)/bin/maturin build --release --zig --compatibility manylinux2014 --sdist -o target/wheels
	@ls -l target/wheels
	$(PY) -m zipfile -l target/wheels/*.whl

test-wheel: venv ## the wheel, installed in fresh venvs and smoke-tested outside the source tree
	$(PY) -m pytest tests/test_wheel.py -m wheel -q

docs: build ## the documentation site into site/ (fails on broken references and on tutorial code that raises)
	$(PY) docs/run_tutorials.py
	$(PY) -m mkdocs build --strict

demo: build ## run the demo on built-in data (vislang demo; DEMO_ARGS="--quick" for a short run)
	$(VENV)/bin/vislang demo $(DEMO_ARGS)

clean: ## remove build outputs
	cargo clean
	rm -rf .benchmarks .pytest_cache .hypothesis site target/wheels
