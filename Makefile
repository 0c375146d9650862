# scribehook: `make test` is what CI runs (.ci/run); `make demo` runs the product locally.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test fmt-check clippy unit check

## Everything CI checks: formatting, lints, all tests.
test: fmt-check clippy unit

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --all-targets --locked
	$(CARGO) test --doc --locked

check: test
