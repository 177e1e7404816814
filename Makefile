# The two commands of the README, and a few helpers around them.
.PHONY: run test build configure-release build-release build-test setup bench clean format

JOBS ?= 2
RELEASE_DIR := build/release
TEST_DIR := build/test
DATA ?= ./data
LISTEN ?= 127.0.0.1:8080

setup:
	@scripts/setup

configure-release: setup
	@cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIRA_BUILD_TESTS=OFF >/dev/null

build-release: configure-release
	@cmake --build $(RELEASE_DIR) -j $(JOBS) --target sira

run: build-release
	@$(RELEASE_DIR)/sira serve --data $(DATA) --listen $(LISTEN)

build-test: setup
	@cmake -S . -B $(TEST_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSIRA_SANITIZE=ON -DSIRA_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(TEST_DIR) -j $(JOBS)

test: build-test
	@cd $(TEST_DIR) && ctest --output-on-failure -j $(JOBS)

bench: configure-release
	@cmake --build $(RELEASE_DIR) -j $(JOBS)
	@bench/run

format:
	@clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp')

clean:
	@rm -rf build
