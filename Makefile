# Two commands for a fresh machine: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test venv install-local install-dev sync-check nbdev-test pytest clean

## Third-party test data is used in place, never copied in: `shared/fixtures` beside this checkout, or beside the
## repository it was cloned from (a fresh clone elsewhere); set SHARED_FIXTURES to point at it directly.
ORIGIN := $(shell git remote get-url origin 2>/dev/null)
export SHARED_FIXTURES ?= $(firstword $(wildcard $(abspath $(CURDIR)/../shared/fixtures) $(if $(ORIGIN),$(abspath $(ORIGIN)/../shared/fixtures))))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade "pip>=24" "setuptools>=70" wheel

venv: $(BIN)/python

install-local: venv
	$(PIP) install -e ".[local]"

## checkov pins boto3==1.35.49 and packaging<24: it gets an environment of its own, linked beside the kit's tools.
CHECKOV_VENV := $(VENV)/tools/checkov

install-dev: venv $(BIN)/checkov
	$(PIP) install -e ".[local,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null

$(BIN)/checkov: | $(BIN)/python
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip --disable-pip-version-check -q install "checkov==3.3.30"
	ln -sf ../tools/checkov/bin/checkov $(BIN)/checkov

## Bring up the embedded local stack, push the sample documents through S3 -> SNS -> SQS -> poller -> Delta.
demo: install-local
	$(BIN)/idp-kit simulate

## The notebooks are the source: cleaning them and exporting them must change nothing.
sync-check: install-dev
	PATH=$(BIN):$$PATH $(BIN)/nbdev_clean
	@git diff --exit-code --stat -- nbs || (echo "nbdev_clean changed notebooks: run nbdev_clean and commit" && exit 1)
	PATH=$(BIN):$$PATH $(BIN)/nbdev_export
	@git diff --exit-code --stat -- idp_kit || (echo "nbdev_export changed idp_kit/: edit the notebooks, export, commit both" && exit 1)
	@test -z "$$(git status --porcelain -- idp_kit nbs)" || (git status --porcelain -- idp_kit nbs; echo "untracked files under idp_kit/ or nbs/" && exit 1)

## Notebook tests start Sail servers in-process: keep its Rust logging to errors.
nbdev-test: install-dev
	RUST_LOG=error PATH=$(BIN):$$PATH $(BIN)/nbdev_test --n_workers 2 --flags slow

pytest: install-dev
	PATH=$(BIN):$$PATH $(BIN)/python -m pytest

## The whole suite; pytest's summary is the last line it prints.
test: sync-check nbdev-test pytest

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
