# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
OUT ?= out

.PHONY: demo test install install-test lint bench bench-stream services-stop

install:
	@$(PYTHON) -m pip install --disable-pip-version-check -q -e .

install-test:
	@scripts/install-deps.sh

demo: install
	icssa replay pcaps/ --out $(OUT)

test: install-test
	scripts/services.sh start
	$(PYTHON) -m pytest

services-stop:
	scripts/services.sh stop

lint:
	ruff check icssa sensors parsers correlation assetmap api tests bench pcaps scripts

bench: install-test
	$(PYTHON) bench/bench_replay.py

bench-stream: install-test
	scripts/services.sh start
	$(PYTHON) bench/bench_stream.py
