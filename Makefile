# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
# rustup's cargo, when it is not on PATH already (scripts/build-native.sh finds it the same way)
export PATH := $(HOME)/.cargo/bin:$(PATH)
OUT ?= out

.PHONY: demo test install install-test lint bench bench-stream services-stop

install:
	@$(PYTHON) -m pip install --disable-pip-version-check -q -e .
	@scripts/build-native.sh

install-test:
	@scripts/install-deps.sh

demo: install
	icssa replay pcaps/ --out $(OUT)

test: install-test
	scripts/services.sh start
	cd native && cargo test --workspace --exclude icssa-native --quiet
	$(PYTHON) -m pytest

services-stop:
	scripts/services.sh stop

lint:
	ruff check icssa sensors parsers correlation assetmap api tests bench pcaps scripts native/tools
	cd native && cargo clippy --workspace --all-targets -- -D warnings && cargo fmt --all --check

bench: install-test
	$(PYTHON) bench/bench_replay.py

bench-stream: install-test
	scripts/services.sh start
	$(PYTHON) bench/bench_stream.py
