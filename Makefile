# Thin wrapper over CMake. `make test` and `make demo` are the README's quick start.
BUILD      ?= build
BUILD_SAN  ?= build-asan
CMAKE_ARGS ?=
# The ASan run skips the fuzz targets: `make test` already runs them, built with ASan+UBSan.
ASAN_CTEST_ARGS ?= -E ^fuzz_
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build test test-asan demo bench deb install soak fuzz format check-format clean

all: build

deps:
	@packaging/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The suites run in parallel: each test file makes its own accounts (unique per run), daemon,
# sockets and temporary files; what some truly share is a ctest RESOURCE_LOCK (tests/*/).
test: deps build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure

test-asan: deps
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DLOCKBOX_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build $(BUILD_SAN) -j $(JOBS)
	cd $(BUILD_SAN) && ctest -j $(JOBS) --output-on-failure $(ASAN_CTEST_ARGS)

demo: deps build
	@packaging/demo.sh $(BUILD)

bench: deps build
	@bench/run.sh $(BUILD)

deb: deps
	@packaging/build-deb.sh

install: build
	cmake --install $(BUILD)

# libFuzzer targets (fuzz/, clang ASan+UBSan): replay the seeds and regressions, then fuzz each
# target FUZZ_SECONDS. Crashes land in $(BUILD_FUZZ)/artifacts/TARGET/.
BUILD_FUZZ   ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	fuzz/build.sh $(BUILD_FUZZ)
	fuzz/run.sh --replay $(BUILD_FUZZ)
	fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

# The long variants of the security suite (tests/security): 60 kill -9 cycles, 1,000 valgrind
# cycles, 50,000 flood requests, more decision races.
soak: deps build
	@set -e; for t in tests/security/test_*.py; do \
	    echo "== $$t (LOCKBOX_SOAK=1)"; \
	    LOCKBOX_SOAK=1 LOCKBOX_BUILD=$(abspath $(BUILD)) PYTHONDONTWRITEBYTECODE=1 python3 $$t -v; \
	done

# Formatting by .clang-format (clang-format 14, Debian 12's): check-format fails and names the
# files that differ; format rewrites them in place.
format:
	@packaging/install-deps.sh clang-format
	@scripts/check-format.sh --fix

check-format:
	@packaging/install-deps.sh clang-format
	@scripts/check-format.sh

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
