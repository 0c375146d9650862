# scribehook. Two commands do everything on a fresh machine:
#   make demo   signed sample webhooks from every provider through the real handlers,
#               into local file stores, then a summary of the records
#   make test   formatting, lints, every test (moto_server and cfn-lint come from .venv)
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python

.PHONY: setup test fmt-check clippy unit lint-template events demo bench

## Python tools (moto_server, cfn-lint) in a project-local virtualenv.
setup: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## Everything CI checks.
test: setup fmt-check clippy lint-template unit

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets --locked -- -D warnings

lint-template: setup
	$(VENV)/bin/cfn-lint template.yaml

unit: setup
	SCRIBEHOOK_PYTHON=$(abspath $(VENV_PY)) $(CARGO) test --all-targets --locked
	$(CARGO) test --doc --locked

## Re-sign the sample events in events/ at the current time (they go stale after
## SIGNATURE_TOLERANCE_SECONDS); pass SIGNED_AT=<unix seconds> to pin the instant.
events:
	$(CARGO) build --quiet --bin scribehook
	$(PYTHON) scripts/make_events.py target/debug/scribehook $(SIGNED_AT)

## The product's main job locally: signed samples from every provider through the real
## handlers into ./data/demo, then the records.
demo: setup
	scripts/demo.sh

## Start-up of the ingest against a bare lambda_runtime function, measured in one run.
bench:
	$(CARGO) build --release --quiet --bin ingest --example bare_runtime
	$(PYTHON) scripts/bench_init.py target/release/examples/bare_runtime target/release/ingest
