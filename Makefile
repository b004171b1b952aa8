# Shortcuts for the commands the README's Development section gives.
.PHONY: test test-quick lint format typecheck bench demo

test:            ## everything, slow end-to-end tests included (what CI runs)
	uv run pytest

test-quick:      ## the quick part: no real Prefect server, workers or browser
	uv run pytest -m "not slow and not e2e"

lint:            ## ruff (lint and format check) and mypy, as CI runs them
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy

format:
	uv run ruff check --fix .
	uv run ruff format .

bench:           ## the benchmarks print their figures (see README, Benchmarks)
	uv run python bench/bench_pipeline.py
	uv run python bench/bench_catalog.py
	uv run python bench/bench_history.py 100 drain
	uv run python bench/bench_overhead.py
	uv run python bench/bench_commands.py
	uv run python bench/bench_claims.py
	uv run python bench/bench_fleet.py

demo:
	uv run python bench/demo.py
