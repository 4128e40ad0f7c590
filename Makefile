# Makefile - the developer entry points; CMake does the building.
#   make demo    install what is missing, build, generate traffic and analyse it
#   make check   install what is missing, build with ASan+UBSan and -Werror, run every test
#   make bench   benchmarks (the packet path against a libpcap floor)
#   make fuzz    longer libFuzzer runs of every fuzz target
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
CHECK_BUILD ?= build-check
FUZZ_SECONDS ?= 300

.PHONY: all deps build check demo bench fuzz clean format

all: build

deps:
	@bash scripts/install-deps.sh
	@bash scripts/install-geodb.sh
	@bash scripts/install-web.sh

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j$(JOBS)
	@test -x $(BUILD)/darkscope

# The tested build: clang, AddressSanitizer + UndefinedBehaviorSanitizer, -Werror, fuzz
# targets (each also runs briefly as a test). The gcc release build must compile too.
check: build
	@cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DDS_SANITIZE=ON -DDS_FUZZ=ON >/dev/null
	@cmake --build $(CHECK_BUILD) -j$(JOBS)
	cd $(CHECK_BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)/darkscope

bench: build
	@bash bench/run.sh $(BUILD)

fuzz: deps
	@cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DDS_SANITIZE=ON -DDS_FUZZ=ON >/dev/null
	@cmake --build $(CHECK_BUILD) -j$(JOBS)
	@bash fuzz/run.sh $(CHECK_BUILD) $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c' 'fuzz/*.c')

clean:
	rm -rf $(BUILD) $(CHECK_BUILD)
