# Every target creates .venv and installs the project itself on first use (nothing to install by hand).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

TARGET ?= local
RUN ?=
PLAN ?= fifa98-mixed
PYTEST_ARGS ?=
# make test / test-all: pytest-xdist processes (0: the tests in this one), each test file on one of them
TEST_WORKERS ?= 2
BENCH_REPEAT ?= 3
BENCH_TOOLS ?= nginx wrk
BENCH_ARGS ?=

.PHONY: help venv demo experiment test test-all lint cloud load replay report deploy destroy bench bench-tools clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the project (done by every other target)

demo: $(STAMP)  ## run experiments/demo.yaml locally (load on both targets at once, S3 replay, report, summary)
	$(PY) -m experiments.demo

experiment: $(STAMP)  ## run a plan: PLAN=fifa98-mixed (experiments/PLAN.yaml) EXPERIMENT_ARGS="--quick --target aws --yes"
	$(PY) -m experiments run experiments/$(PLAN).yaml $(EXPERIMENT_ARGS)

test: $(STAMP) lint  ## lint, then the test suite without the slow end-to-end tests
	$(PY) -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-all: $(STAMP) lint  ## every test, the slow end-to-end ones too
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

cloud: $(STAMP)  ## start the local cloud in the foreground and print its endpoints (Ctrl-C stops it)
	$(PY) -m localcloud up

load: $(STAMP)  ## open-model Locust load: TARGET=local|local-faas|local-server|lambda|ec2 SHAPE= RATE= DURATION= USERS= WORKERS=
	$(PY) -m locustfiles --target $(TARGET) $(if $(SHAPE),--shape $(SHAPE)) $(if $(RATE),--rate-rps $(RATE)) \
		$(if $(DURATION),--duration-s $(DURATION)) $(if $(USERS),--max-inflight $(USERS)) \
		$(if $(WORKERS),--processes $(WORKERS)) $(LOAD_ARGS)

replay: $(STAMP)  ## replay a compressed FIFA'98 window as S3 uploads against the local cloud (REPLAY_ARGS=...)
	$(PY) -m replay traces/fifa98.csv $(REPLAY_ARGS)

report: $(STAMP)  ## write the report of RUN (default: the latest run under runs/)
	$(PY) -m analysis $(if $(RUN),$(RUN),--latest)

deploy: $(STAMP)  ## deploy to AWS (billable): IMAGE_URI=<pushed image> [DEPLOY_ARGS="--ec2 --memory-mb 2048"]
	@test -n "$(IMAGE_URI)" || { echo "set IMAGE_URI to a pushed image (README: Running against AWS)"; exit 2; }
	$(PY) -m awslab deploy --image-uri $(IMAGE_URI) --yes $(DEPLOY_ARGS)

destroy: $(STAMP)  ## delete the AWS stack (empties its buckets first)
	$(PY) -m awslab destroy --yes $(DESTROY_ARGS)

bench: $(STAMP) bench-tools  ## benchmarks, BENCH_REPEAT=3 runs each: median (min-max) per figure, runs/bench/<stamp>/summary.md (BENCH_ARGS="--only analysis")
	$(PY) bench/run.py --repeat $(BENCH_REPEAT) $(BENCH_ARGS)

bench-tools:  ## the benches' peers from Debian's packages (nginx, wrk): installed when missing, as root with apt-get
	bash bench/tools.sh $(BENCH_TOOLS)

clean:  ## remove run outputs and caches (not .venv)
	rm -rf runs .pytest_cache .ruff_cache .hypothesis
