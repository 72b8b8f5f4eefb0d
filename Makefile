# A thin wrapper over meson. The two set-up commands of the README:
#   make run    install what is missing, build, start `pivotal serve`
#   make test   install what is missing, build, run every suite (also under
#               ASan+UBSan and a short fuzz run), print `N passed, N failed`
# and for measuring:
#   make bench [B=NAME]   build optimised and run the benchmarks in tests/bench
.PHONY: run test build bench clean deps

BUILD ?= build
ARGS ?=

deps:
	@scripts/deps.sh

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=debugoptimized >/dev/null
	@ninja -C $(BUILD) >/dev/null

run: build
	$(BUILD)/cmd/pivotal serve $(ARGS)

test:
	@scripts/test.sh

bench: deps
	@scripts/bench.sh $(B)

clean:
	rm -rf build build-asan build-fuzz build-bench
