# green: one Makefile, globbing its sources (see README.md for the targets).
#   make [DEBUG=0|1|2]   build/libgreen.so, build/green
#   make test            every Criterion suite (unit, then preload)
#   make asan            the same suites against an ASan/UBSan build in build-asan/
#   make bench           native vs green on ../shared/progs
#   make check           test + exported-symbol check + clang-format check
CC        ?= gcc
CXX       ?= g++
DEBUG     ?= 0
BUILD     ?= build
SHARED_PROGS ?= ../shared/progs

WARN      := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes
# Link-time optimisation inlines the small cross-file calls of a hand-off (10-20% off
# mutex_pingpong and create_join); LTO= builds without it (the ASan build does).
# -fno-ipa-reference: GCC 12's pass keeps a file's static variable in a register across
# calls it proves never touch it, even calls that take and release a lock (gr_lock's
# acquire and release), which loses updates made under the lock by other threads
# (tests/unit/lock.c: 400,000 locked increments came to 117,000-364,000).
LTO       ?= -flto=auto
SAFE_IPA  := -fno-ipa-reference
CFLAGS    := -std=gnu11 -O2 -g $(WARN) -fPIC -fvisibility=hidden -fno-omit-frame-pointer \
             -D_GNU_SOURCE -DGR_DEBUG=$(DEBUG) -Ishim $(LTO) $(SAFE_IPA) $(EXTRA_CFLAGS)
LDFLAGS   := -shared -Wl,--version-script=interpose/exports.map -Wl,-z,now -O2 -g $(LTO) \
             $(SAFE_IPA) $(EXTRA_LDFLAGS)
LIBS      := -ldl -lpthread -lunwind

SHIM_C    := $(wildcard shim/*.c)
SHIM_S    := $(wildcard shim/arch/x86_64/*.S)
INTER_C   := $(wildcard interpose/*.c)
SHIM_O    := $(patsubst %.c,$(BUILD)/obj/%.o,$(SHIM_C)) $(patsubst %.S,$(BUILD)/obj/%.o,$(SHIM_S))
INTER_O   := $(patsubst %.c,$(BUILD)/obj/%.o,$(INTER_C))
HEADERS   := $(wildcard shim/*.h shim/arch/x86_64/*.h interpose/*.h)

UNIT      := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/*.c))
PRELOAD   := $(patsubst tests/preload/%.c,$(BUILD)/tests/preload/%,$(wildcard tests/preload/*.c))
TPROGS    := $(patsubst tests/progs/%.c,$(BUILD)/tests/progs/%,$(filter-out tests/progs/lib%,$(wildcard tests/progs/*.c))) \
             $(patsubst tests/progs/%.c,$(BUILD)/tests/progs/%.so,$(wildcard tests/progs/lib*.c)) \
             $(patsubst tests/progs/%.cc,$(BUILD)/tests/progs/%,$(wildcard tests/progs/*.cc))
RUSTC     ?= $(shell command -v rustc 2>/dev/null || ls $(HOME)/.cargo/bin/rustc 2>/dev/null)
TPROGS    += $(if $(RUSTC),$(patsubst tests/progs/%.rs,$(BUILD)/tests/progs/%,$(wildcard tests/progs/*.rs)))
HELPERS_C := $(wildcard tests/helpers.c)
ABS       := $(abspath $(BUILD))
TEST_DEFS := -DGR_LIB='"$(ABS)/libgreen.so"' -DGR_TEST_PROGS='"$(ABS)/tests/progs"' \
             -DGR_SHARED_PROGS='"$(ABS)/progs"' -DGR_SRCDIR='"$(abspath .)"'

all: $(BUILD)/libgreen.so $(BUILD)/green

$(BUILD)/libgreen.so: $(SHIM_O) $(INTER_O) interpose/exports.map
	$(CC) $(LDFLAGS) -o $@ $(SHIM_O) $(INTER_O) $(LIBS)

# The shim alone, for unit tests that drive its modules directly.
$(BUILD)/libgreen_shim.a: $(SHIM_O)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/%.o: %.c $(HEADERS) | $(BUILD)/obj
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.S | $(BUILD)/obj
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/green: tools/green.c | $(BUILD)/obj
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $<

$(BUILD)/obj:
	mkdir -p $@

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libgreen_shim.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -fvisibility=hidden,$(CFLAGS)) -Itests $(TEST_DEFS) -o $@ $< \
		$(BUILD)/libgreen_shim.a -lcriterion $(LIBS)

# The stack and glibc suites load modules of the test programs.
$(BUILD)/tests/unit/stack: $(BUILD)/tests/progs/libtlsie.so $(BUILD)/tests/progs/libtlsmod.so
$(BUILD)/tests/unit/glibc: $(BUILD)/tests/progs/libtlsmod.so

$(BUILD)/tests/preload/%: tests/preload/%.c $(HELPERS_C) tests/helpers.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -Itests $(TEST_DEFS) -o $@ $< $(HELPERS_C) \
		-lcriterion

$(BUILD)/tests/progs/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -Wno-missing-prototypes -pthread -o $@ $< -lm

# Boehm GC's threads, stopped with signals (libgc-dev: tools/setup.sh installs it).
$(BUILD)/tests/progs/gc_boehm: tests/progs/gc_boehm.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -Wno-missing-prototypes -pthread -o $@ $< -lgc

# Modules the test programs load with dlopen.
$(BUILD)/tests/progs/lib%.so: tests/progs/lib%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -Wno-missing-prototypes -fPIC -shared -o $@ $<

# symver_2_34.c is symver_2_2_5.c built against another symbol version.
$(BUILD)/tests/progs/symver_2_34: tests/progs/symver_2_2_5.c

$(BUILD)/tests/progs/%: tests/progs/%.cc
	@mkdir -p $(dir $@)
	$(CXX) -std=gnu++20 -O2 -g -Wall -Wextra -Werror -pthread -o $@ $<

# Rust test programs (skipped when rustc is missing: the tests then cr_skip).
$(BUILD)/tests/progs/%: tests/progs/%.rs
	@mkdir -p $(dir $@)
	$(RUSTC) -O --edition 2021 -o $@ $<

setup:
	@tools/setup.sh

progs:
	@if [ -d $(SHARED_PROGS) ]; then $(MAKE) -s -C $(SHARED_PROGS) OUT=$(ABS)/progs; \
	else echo "green: $(SHARED_PROGS) not found: contract-program tests will skip"; fi

tests: all $(UNIT) $(PRELOAD) $(TPROGS) progs

test: setup
	@$(MAKE) -s tests
	@tools/run-tests.sh $(BUILD)

asan:
	@$(MAKE) -s BUILD=build-asan LTO= EXTRA_CFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=undefined' \
		EXTRA_LDFLAGS='-fsanitize=address,undefined' tests
	@LSAN_OPTIONS=suppressions=$(abspath tools/lsan.supp) tools/run-tests.sh build-asan unit

bench: setup
	@$(MAKE) -s all progs
	@tools/bench.sh $(BUILD)/libgreen.so $(BUILD)/progs

check: test
	@clang-format --dry-run -Werror shim/*.c shim/*.h interpose/*.c tests/unit/*.c

clean:
	rm -rf build build-asan

.PHONY: all setup progs tests test asan bench check clean
.SECONDARY:
