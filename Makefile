# Convenience targets; the README's two commands (scripts/run.sh, scripts/test.sh) need no make.
PY ?= .venv/bin/python
FUZZ_SECONDS ?= 300

.PHONY: setup test fuzz fuzz-seeds bench
setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh

fuzz-seeds:
	$(PY) fuzz/make_seeds.py

# Coverage-guided fuzzing for a fixed budget per target; crashes land in fuzz/artifacts/.
# Copy a crash into tests/fuzz/regressions/<target>/ once fixed, so it stays fixed.
fuzz:
	mkdir -p fuzz/artifacts
	$(PY) fuzz/fuzz_inspector.py -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 \
		-artifact_prefix=fuzz/artifacts/inspector- fuzz/corpus/inspector
	$(PY) fuzz/fuzz_reader.py -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 \
		-artifact_prefix=fuzz/artifacts/reader- fuzz/corpus/reader

bench:
	$(PY) benchmarks/bench_audit.py --packets 1000000
