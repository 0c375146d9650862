# scribehook. Two commands do everything on a fresh machine:
#   make demo   signed sample webhooks from every provider through the real handlers,
#               into local file stores, then a summary of the records
#   make test   formatting, lints, every test (moto_server, cfn-lint and the SAM translator
#               come from .venv)
#   make template    the per-provider parts of template.yaml from `scribehook providers`
#   make compliance  checkov and AWS Guard rules on the transformed template, the template
#                    tests, and docs/compliance.md written from that run
# and, for the Lambda side:
#   make invoke      both handlers under `cargo lambda watch`, with freshly signed samples
#   make sam-build   `sam build` (ARCH=arm64, as deployed, or ARCH=x86_64)
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
# Where cargo puts what it builds (it honours CARGO_TARGET_DIR).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# Instruction set for `sam build` and `sam local invoke`: the template's Architecture.
ARCH ?= arm64
RUST_TARGET_arm64 := aarch64-unknown-linux-gnu
RUST_TARGET_x86_64 := x86_64-unknown-linux-gnu
RUST_TARGET := $(RUST_TARGET_$(ARCH))

.PHONY: load setup test fmt-check clippy unit lint-template events signed-events demo invoke bench bench-peer \
	sam-setup rust-target sam-build validate template compliance compliance-setup

## Python tools (moto_server, cfn-lint with its serverless rules, aws-sam-translator,
## cargo-lambda) in a project-local virtualenv.
setup: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	@echo "== make setup: moto, cfn-lint, aws-sam-translator and cargo-lambda (with zig) from PyPI into $(VENV)/ (first time only; about a minute)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar off -r requirements-dev.txt
	touch $@

## Everything CI checks.
test: setup fmt-check clippy lint-template unit

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	@# The Lambda functions as built without the CLI feature.
	$(CARGO) clippy --no-default-features --lib --bins --locked -- -D warnings

lint-template: setup
	$(VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml

## The per-provider parts of template.yaml (the regions marked GENERATED) rewritten from the
## provider list the code prints; tests/template.rs fails while they differ.
template:
	$(CARGO) build --bin scribehook
	$(TARGET_DIR)/debug/scribehook providers | $(PYTHON) scripts/template.py --providers - --template template.yaml

## checkov and cfn-guard in their own virtualenv (checkov's dependency pins stay out of the
## test tools). The Guard rules are AWS's registry rules as the awslabs IaC MCP server
## package ships them (PyPI), downloaded without its dependencies.
COMPLIANCE_VENV := .venv-compliance
GUARD_RULES_PACKAGE := awslabs-aws-iac-mcp-server==1.0.26
compliance-setup: $(COMPLIANCE_VENV)/.installed

$(COMPLIANCE_VENV)/.installed: requirements-compliance.txt
	@echo "== make compliance-setup: checkov, guardpycfn and the AWS Guard rules from PyPI into $(COMPLIANCE_VENV)/ (first time only; a few minutes)"
	$(PYTHON) -m venv $(COMPLIANCE_VENV)
	$(COMPLIANCE_VENV)/bin/pip install --disable-pip-version-check --progress-bar off -r requirements-compliance.txt
	rm -rf $(COMPLIANCE_VENV)/guard-rules && mkdir -p $(COMPLIANCE_VENV)/guard-rules
	$(COMPLIANCE_VENV)/bin/pip download --disable-pip-version-check --progress-bar off --no-deps \
		-d $(COMPLIANCE_VENV)/guard-rules $(GUARD_RULES_PACKAGE)
	touch $@

## The evidence for a compliance reviewer: the template transformed for the default and the
## customer-key parameter sets, checkov and the HIPAA-set Guard rules on both, the template
## tests, then docs/compliance.md written from those results. Fails when any check fails.
COMPLIANCE_OUT := $(TARGET_DIR)/compliance
compliance: setup compliance-setup
	@mkdir -p $(COMPLIANCE_OUT) && rm -f $(COMPLIANCE_OUT)/timings.txt
	s=$$(date +%s%N); SCRIBEHOOK_PYTHON=$(abspath $(VENV_PY)) $(CARGO) test --locked --test template \
		2>&1 | tee $(COMPLIANCE_OUT)/template-tests.txt; \
		echo "template tests (cargo test --test template, built) $$((($$(date +%s%N)-s)/1000000))" >> $(COMPLIANCE_OUT)/timings.txt
	s=$$(date +%s%N); $(VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml \
		> $(COMPLIANCE_OUT)/cfn-lint.txt 2>&1; echo $$? > $(COMPLIANCE_OUT)/cfn-lint.rc; \
		echo "cfn-lint with cfn-lint-serverless $$((($$(date +%s%N)-s)/1000000))" >> $(COMPLIANCE_OUT)/timings.txt
	s=$$(date +%s%N); $(VENV_PY) scripts/compliance.py transform --out $(COMPLIANCE_OUT) && \
		echo "SAM transform, two parameter sets $$((($$(date +%s%N)-s)/1000000))" >> $(COMPLIANCE_OUT)/timings.txt
	s=$$(date +%s%N); BC_SKIP_MAPPING=TRUE $(COMPLIANCE_VENV)/bin/checkov --compact --skip-download \
		--framework cloudformation -d $(COMPLIANCE_OUT)/templates -o json \
		> $(COMPLIANCE_OUT)/checkov.json; echo $$? > $(COMPLIANCE_OUT)/checkov.rc; \
		echo "checkov, two templates $$((($$(date +%s%N)-s)/1000000))" >> $(COMPLIANCE_OUT)/timings.txt
	s=$$(date +%s%N); $(COMPLIANCE_VENV)/bin/python scripts/compliance.py guard --out $(COMPLIANCE_OUT) \
		--rules-wheel "$$(ls $(COMPLIANCE_VENV)/guard-rules/*.whl)" && \
		echo "cfn-guard (guardpycfn), two templates $$((($$(date +%s%N)-s)/1000000))" >> $(COMPLIANCE_OUT)/timings.txt
	$(VENV_PY) scripts/compliance.py report --out $(COMPLIANCE_OUT) --doc docs/compliance.md

unit: setup
	SCRIBEHOOK_PYTHON=$(abspath $(VENV_PY)) $(CARGO) test --all-targets --locked
	$(CARGO) test --doc --locked

## Re-sign the committed samples in events/ at the current time (the tests pin their clock to
## events/manifest.json, so this is for when the payloads change); SIGNED_AT=<unix seconds>
## pins the instant.
events:
	$(CARGO) build --bin scribehook
	$(PYTHON) scripts/make_events.py $(TARGET_DIR)/debug/scribehook $(SIGNED_AT)

## Freshly signed copies of the samples in data/events (ignored by git), for
## `cargo lambda invoke --data-file` and `sam local invoke -e`/`--env-vars`: valid for
## SIGNATURE_TOLERANCE_SECONDS (300 s) from now.
signed-events:
	$(CARGO) build --bin scribehook
	$(PYTHON) scripts/make_events.py $(TARGET_DIR)/debug/scribehook $(SIGNED_AT) --out data/events

## The product's main job locally: signed samples from every provider through the real
## handlers into ./data/demo, then the records.
demo: setup
	scripts/demo.sh

## Both Lambda handlers under `cargo lambda watch`: every sample re-signed into data/lambda,
## ingested, then the SQS samples processed; the emulator is stopped at the end.
invoke: setup
	scripts/lambda_local.sh

## Issue 9's performance table, each row against its floor, measured in one run on this
## machine (medians of interleaved cold runs), with issue 22's profile of the inline path
## and cost table: prints one line per row and writes docs/performance.md from the same
## run. BENCH_RUNS (20), BENCH_PROCESSOR_RUNS (5; also the cost table's runs) and
## BENCH_PROFILE_RUNS (10) set the number of runs. Needs the release binaries and examples (built here), moto from
## .venv (setup) and the Python peer's own venv (bench-peer).
bench: setup bench-peer
	@# Two builds with the features the functions are deployed with; the floors' package
	@# shares every compiled dependency with the first.
	$(CARGO) build --release --locked --bin ingest --bin processor
	$(CARGO) build --release --locked -p scribehook-bench
	$(VENV_PY) scripts/bench.py --target-dir $(TARGET_DIR)

## The Python peer of `make bench` (bench/peer: awslambdaric + boto3) in its own venv,
## bench/.venv. If pip cannot install it here, the reason goes to bench/.venv/.failed and
## `make bench` reports that row as not measured, saying why, instead of stopping.
PEER_VENV := bench/.venv
bench-peer: $(PEER_VENV)/.installed

$(PEER_VENV)/.installed: bench/peer/requirements.txt
	@echo "== make bench-peer: awslambdaric and boto3 from PyPI into $(PEER_VENV)/ (first time only)"
	@rm -f $(PEER_VENV)/.failed
	@set -o pipefail; \
	if $(PYTHON) -m venv $(PEER_VENV) && \
	   $(PEER_VENV)/bin/pip install --disable-pip-version-check --progress-bar off \
	     -r bench/peer/requirements.txt 2>&1 | tee $(PEER_VENV)/pip.log; then \
	  touch $@; \
	else \
	  mkdir -p $(PEER_VENV); \
	  echo "could not install bench/peer/requirements.txt into $(PEER_VENV) with $$($(PYTHON) --version 2>&1) on $$(uname -m)" > $(PEER_VENV)/.failed; \
	  echo "== make bench-peer failed: make bench goes on without the Python peer" >&2; \
	fi

## The AWS SAM CLI in .venv, apart from `setup`: only building for, invoking in and deploying
## to Lambda need it, and it doubles setup's download (about 30 s more here).
sam-setup: $(VENV)/.sam-installed

$(VENV)/.sam-installed: requirements-sam.txt $(VENV)/.installed
	@echo "== make sam-setup: the AWS SAM CLI from PyPI into $(VENV)/ (first time only; about 30 s)"
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar off -r requirements-sam.txt
	touch $@

## The Rust target of ARCH, installed once before `sam build`: its functions build in
## parallel and would otherwise race to install it.
rust-target:
	@test -n "$(RUST_TARGET)" || { echo "ARCH must be arm64 or x86_64" >&2; exit 1; }
	rustup target add $(RUST_TARGET)

## `sam build` for ARCH (arm64 by default, as deployed; ARCH=x86_64 for `sam local invoke`
## on an x86_64 host without emulation). cargo-lambda and zig come from .venv. The binaries are
## built first with the exact command SAM's rust-cargolambda builder runs, so cargo's progress
## shows (SAM hides it; the first build takes about 12 minutes on 2 cores) and SAM's own builds
## find them up to date. SAM picks the binaries up from ./target/lambda, so CARGO_TARGET_DIR
## is unset for both. samconfig.toml turns SAM's build cache off: it would hash the whole
## repository root (target/ and .venv included) before every build, while cargo already
## rebuilds only what changed.
LAMBDA_ARCH_FLAG_arm64 := --arm64
LAMBDA_ARCH_FLAG_x86_64 :=
sam-build: sam-setup rust-target
	@echo "== make sam-build: cargo lambda build of the functions (ARCH=$(ARCH)), then sam build"
	env -u CARGO_TARGET_DIR PATH="$(abspath $(VENV))/bin:$$PATH" \
		$(CARGO) lambda build --release $(LAMBDA_ARCH_FLAG_$(ARCH)) --bin ingest --bin processor
	env -u CARGO_TARGET_DIR PATH="$(abspath $(VENV))/bin:$$PATH" \
		$(VENV)/bin/sam build --parameter-overrides Architecture=$(ARCH)

## `sam validate --lint` (the same cfn-lint as lint-template, through the SAM CLI).
validate: sam-setup
	AWS_REGION=$${AWS_REGION:-us-east-1} $(VENV)/bin/sam validate --lint

## 10,000 signed deliveries from every provider through the real handlers (32 concurrent
## senders, 4 concurrent processors) into DynamoDB (dynalite, from npm), then every record
## checked against the fold of its events; prints throughput and latencies, overall and per
## provider, and stops by itself.
load: setup
	scripts/load.sh

## Fuzzing (issue 8): every cargo-fuzz target in fuzz/ (signature headers + verify, and
## normalize, each for every provider, the input's first byte choosing it; API Gateway v1/v2
## events through the real handler; the Deepgram, WebVTT, SRT, txt and SOAP readers) for
## FUZZ_SECONDS each (default 30), from the seeds in fuzz/corpus. Needs the nightly
## toolchain; installs cargo-fuzz from crates.io if missing.
## FUZZ_TARGETS="verify apigw_v2" runs only those. Figures: fuzz/target/summary.txt.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?=
.PHONY: fuzz
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh $(FUZZ_TARGETS)
