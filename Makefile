# The CEP information system. README.md's two commands: `make run`, `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test up down stop demo status build lint charts bench

## run: the whole system on this machine with demo data, until Ctrl-C
run: up demo
	@bash scripts/stack.sh usage
	@bash scripts/stack.sh wait

## test: every test (unit, integration on real Postgres and NATS, charts, stack smoke test)
test:
	@bash scripts/test.sh

## up: install what is missing, start Postgres, NATS and the services in the background
up: build
	@bash scripts/stack.sh up

## down (or stop): stop everything `make up` started
down:
	@bash scripts/stack.sh down

stop: down

## demo: load demo data into the running stack through the public APIs
demo:
	@bash scripts/demo.sh

status:
	@bash scripts/stack.sh status

build:
	$(CARGO) build --workspace --bins
	$(CARGO) build -p cep-testkit --features ftps --bin cep-local-ftps

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## charts: render and validate the Helm chart and the kustomize overlays
charts:
	@bash scripts/check-charts.sh

## bench: throughput and latency of the services against a floor measured in the same run
bench:
	@bash scripts/bench.sh
