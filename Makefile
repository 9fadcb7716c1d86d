# libgzmq — gevent's way of writing concurrent programs, in C.
# `make help` lists the targets.

VERSION   := 0.1.0
SOVERSION := 0
PREFIX    ?= /usr/local
DESTDIR   ?=
LIBDIR    ?= $(PREFIX)/lib
BUILD     ?= build
CC        ?= cc
CFLAGS    ?= -O2 -g
# Context switch: the assembly for this machine, or CTX=ucontext.
CTX       ?= $(shell uname -m | sed -e 's/^arm64$$/aarch64/' -e 's/^amd64$$/x86_64/')
ifeq ($(filter x86_64 aarch64,$(CTX)),)
override CTX := ucontext
endif
# DEBUG=1: assertions and use-after-free checks on objects.
DEBUG     ?= 0
# SAN=address,undefined (see check-asan) adds sanitizer flags everywhere.
SAN       ?=

WARN      := -Wall -Wextra -Werror
# Greenlet stacks sit next to each other below a guard region: probing every
# page of a big frame makes it fault in the guard instead of stepping over
# it into a neighbour's stack (README, "Stacks"). Code run on greenlets
# should be built with it too.
HARDEN    := -fstack-clash-protection
ALL_CPPFLAGS := -Iinclude -Ilibgzmq -D_GNU_SOURCE $(CPPFLAGS)
# Run info walks a parked greenlet's frames along the frame pointers. The
# switch, spawn and join fast paths (hub.c, greenlet.c, ctx.c) go without:
# 5% more instructions per switch otherwise; gz__park_until records its own frame.
FRAMES    := -fno-omit-frame-pointer
FAST_PATH_OBJ := $(BUILD)/obj/hub.o $(BUILD)/obj/greenlet.o $(BUILD)/obj/ctx.o
ifeq ($(SAN),)
$(FAST_PATH_OBJ): OBJ_CFLAGS := -fomit-frame-pointer
endif
ALL_CFLAGS   := -std=gnu11 -fPIC $(WARN) $(HARDEN) $(FRAMES) $(CFLAGS)
ALL_LDFLAGS  := $(LDFLAGS)
ifneq ($(SAN),)
ALL_CFLAGS   += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_LDFLAGS  += -fsanitize=$(SAN)
endif
ifeq ($(DEBUG),1)
ALL_CPPFLAGS += -DGZ_DEBUG=1
endif
LIBS      := -lzmq -lev -lpthread -lm
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

LIB_C   := $(filter-out libgzmq/ctx_ucontext.c,$(wildcard libgzmq/*.c))
ifeq ($(CTX),ucontext)
LIB_C   += libgzmq/ctx_ucontext.c
ALL_CPPFLAGS += -DGZ_CTX_UCONTEXT=1
LIB_S   :=
else
LIB_S   := libgzmq/ctx_$(CTX).S
endif
LIB_OBJ := $(LIB_C:libgzmq/%.c=$(BUILD)/obj/%.o) $(LIB_S:libgzmq/%.S=$(BUILD)/obj/%.o)
HEADERS := include/gzmq.h $(wildcard include/gzmq/*.h)
STATIC  := $(BUILD)/libgzmq.a
SHARED  := $(BUILD)/libgzmq.so.$(VERSION)

TESTS      := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
# libgzmq-czmq (czmq/): green czmq, built when libczmq-dev is present.
HAVE_CZMQ  := $(shell pkg-config --exists libczmq 2>/dev/null && echo 1)
CZMQ_OBJ   := $(BUILD)/obj/czmq/gz_czmq.o
CZMQ_STATIC := $(BUILD)/libgzmq-czmq.a
CZMQ_SHARED := $(BUILD)/libgzmq-czmq.so.$(VERSION)
CZMQ_LIBS  := $(shell pkg-config --libs libczmq 2>/dev/null)
ifeq ($(HAVE_CZMQ),1)
CZMQ_ALL   := $(CZMQ_STATIC) $(CZMQ_SHARED)
else
TESTS      := $(filter-out $(BUILD)/tests/test_czmq,$(TESTS))
endif
TUTORIALS  := $(patsubst demos/tutorial/%.c,$(BUILD)/demos/tutorial/%,$(wildcard demos/tutorial/*.c))
PROGRAMS   := $(patsubst demos/%.c,$(BUILD)/bin/gzmq-%,$(wildcard demos/*.c))
DEMO_COMMON := $(wildcard demos/common/*.c)

.PHONY: all lib man demos tests test check-fresh check-asan check-debug check-tsan check-valgrind check-ucontext check-aarch64 demo deps install \
        uninstall clean help install-check deb check-deb czmq

all: lib demos tests man

lib: $(STATIC) $(SHARED) $(CZMQ_ALL)

help:
	@echo "make               build the libraries, demos and tests"
	@echo "make deps          apt-get install what pkg-config cannot find"
	@echo "make demo          install deps, build, run the tutorial demos"
	@echo "make test          install deps, build, run every test suite"
	@echo "make check-asan    the test suites under ASan + UBSan"
	@echo "make check-debug   the test suites on a DEBUG=1 build (use-after-free checks)"
	@echo "make check-tsan    the test suites under ThreadSanitizer"
	@echo "make check-valgrind  the test suites under valgrind memcheck"
	@echo "make check-ucontext  the test suites on the ucontext fallback"
	@echo "make check-aarch64 the aarch64 context switch under qemu-user"
	@echo "make check-fresh   as root: make demo + make test in a fresh minimal Debian chroot"
	@echo "make man           the manual pages (doc/man/*.scd) into $(BUILD)/man"
	@echo "make install       PREFIX=/usr/local DESTDIR= : header, libs, pc, cmake, man pages, demos"
	@echo "make uninstall     remove what install put there"
	@echo "make deb           Debian packages (debian/) into $(BUILD)/deb, then lintian"
	@echo "make check-deb     as root: install the .debs in a chroot copy, build and run against them"
	@echo "make soak          SOAK_SCALE=1 : 10M greenlets and ZeroMQ messages, RSS must stay flat"
	@echo "make soak-pipeline PIPELINE_RUNS=10 : the journaled pipeline, ventilator, sink and a worker killed each run"
	@echo "make fuzz          FUZZ_SECONDS=60 : each libFuzzer target (clang) for that long"
	@echo "make clean         remove build output"
	@echo "variables: CC=clang CTX=ucontext DEBUG=1 SAN=address,undefined"

# ---- dependencies: Debian packages, installed only when missing ----
deps:
	@missing=""; \
	pkg-config --version >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	pkg-config --exists libzmq 2>/dev/null || missing="$$missing libzmq3-dev"; \
	pkg-config --exists cmocka 2>/dev/null || missing="$$missing libcmocka-dev"; \
	echo '#include <ev.h>' | $(CC) -E -x c - >/dev/null 2>&1 || missing="$$missing libev-dev"; \
	echo '#include <http_parser.h>' | $(CC) -E -x c - >/dev/null 2>&1 || missing="$$missing libhttp-parser-dev"; \
	echo '#include <expat.h>' | $(CC) -E -x c - >/dev/null 2>&1 || missing="$$missing libexpat1-dev"; \
	echo '#include <sodium.h>' | $(CC) -E -x c - >/dev/null 2>&1 || missing="$$missing libsodium-dev"; \
	/usr/bin/python3 -c 'import zmq' 2>/dev/null || missing="$$missing python3-zmq"; \
	command -v python3 >/dev/null 2>&1 || missing="$$missing python3"; \
	command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	command -v c++ >/dev/null 2>&1 || missing="$$missing g++"; \
	command -v cmake >/dev/null 2>&1 || missing="$$missing cmake"; \
	command -v meson >/dev/null 2>&1 || missing="$$missing meson"; \
	command -v ninja >/dev/null 2>&1 || missing="$$missing ninja-build"; \
	command -v scdoc >/dev/null 2>&1 || missing="$$missing scdoc"; \
	command -v gdb >/dev/null 2>&1 || missing="$$missing gdb"; \
	pkg-config --exists libczmq 2>/dev/null || missing="$$missing libczmq-dev"; \
	command -v groff >/dev/null 2>&1 || missing="$$missing groff-base"; \
	command -v nm >/dev/null 2>&1 || missing="$$missing binutils"; \
	export DEBIAN_FRONTEND=noninteractive; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -q && apt-get -o DPkg::Lock::Timeout=600 install -y -q $$missing || exit 1; \
	fi; \
	static=$$(CC="$(CC)" sh tools/static-deps.sh 2>/dev/null) || \
	  { apt-get update -q >/dev/null; static=$$(CC="$(CC)" sh tools/static-deps.sh) || exit 1; }; \
	if [ -n "$$static" ]; then \
	  echo "installing for static links:" $$static; \
	  apt-get -o DPkg::Lock::Timeout=600 install -y -q $$static || exit 1; \
	elif [ -z "$$missing" ]; then echo "dependencies present"; fi

# ---- the library ----
$(BUILD)/obj/%.o: libgzmq/%.c $(wildcard libgzmq/*.h) $(HEADERS) | $(BUILD)/obj
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(OBJ_CFLAGS) -c $< -o $@

# version.c does not build when include/gzmq.h's numbers are not VERSION's.
$(BUILD)/obj/version.o: ALL_CPPFLAGS += $(addprefix -DGZ_BUILD_VERSION_,$(join MAJOR= MINOR= PATCH=,$(subst ., ,$(VERSION))))

$(BUILD)/obj/%.o: libgzmq/%.S | $(BUILD)/obj
	$(CC) $(ALL_CPPFLAGS) -fPIC -c $< -o $@

$(STATIC): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(SHARED): $(LIB_OBJ) libgzmq/libgzmq.map
	$(CC) -shared -Wl,-soname,libgzmq.so.$(SOVERSION) \
	  -Wl,--version-script=libgzmq/libgzmq.map $(ALL_LDFLAGS) -o $@ $(LIB_OBJ) $(LIBS)
	ln -sf libgzmq.so.$(VERSION) $(BUILD)/libgzmq.so.$(SOVERSION)
	ln -sf libgzmq.so.$(SOVERSION) $(BUILD)/libgzmq.so

$(BUILD)/obj $(BUILD)/tests $(BUILD)/demos/tutorial $(BUILD)/bin $(BUILD)/obj/czmq:
	mkdir -p $@

# ---- libgzmq-czmq: its own archive, shared library (linked against
# libgzmq.so) and .pc; the core library keeps its two dependencies ----
czmq: $(CZMQ_ALL)

$(CZMQ_OBJ): czmq/gz_czmq.c czmq/include/gzmq/czmq.h $(HEADERS) | $(BUILD)/obj/czmq
	$(CC) -Iczmq/include $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(CZMQ_STATIC): $(CZMQ_OBJ)
	rm -f $@
	ar rcs $@ $^

$(CZMQ_SHARED): $(CZMQ_OBJ) $(SHARED)
	$(CC) -shared -Wl,-soname,libgzmq-czmq.so.$(SOVERSION) $(ALL_LDFLAGS) -o $@ $(CZMQ_OBJ) \
	  -L$(BUILD) -lgzmq $(CZMQ_LIBS) $(LIBS)
	ln -sf libgzmq-czmq.so.$(VERSION) $(BUILD)/libgzmq-czmq.so.$(SOVERSION)
	ln -sf libgzmq-czmq.so.$(SOVERSION) $(BUILD)/libgzmq-czmq.so

$(BUILD)/tests/test_czmq: tests/test_czmq.c tests/gz_test.h $(CZMQ_STATIC) $(STATIC) $(HEADERS) | $(BUILD)/tests
	$(CC) -Iczmq/include $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(CZMQ_STATIC) $(STATIC) $(CZMQ_LIBS) $(LIBS) $(TEST_LIBS)

# ---- manual pages: doc/man/*.scd -> $(BUILD)/man/man1, man3, man7 (tools/man.sh) ----
MAN_SRC := $(wildcard doc/man/*.scd)

man: $(BUILD)/man/.stamp

$(BUILD)/man/.stamp: $(MAN_SRC) tools/man.sh Makefile
	rm -rf $(BUILD)/man
	sh tools/man.sh build $(BUILD)/man $(VERSION)
	touch $@

# ---- demos, tests (linked against the static library) ----
demos: $(TUTORIALS) $(PROGRAMS)

$(BUILD)/demos/tutorial/%: demos/tutorial/%.c $(STATIC) $(HEADERS) | $(BUILD)/demos/tutorial
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(STATIC) $(LIBS)

# -rdynamic: GZ_MAX_BLOCKING_TIME and GZ_RUN_INFO_SIGNAL name the programs'
# functions in their backtraces.
$(BUILD)/bin/gzmq-%: demos/%.c $(DEMO_COMMON) $(wildcard demos/common/*.h) $(STATIC) $(HEADERS) | $(BUILD)/bin
	$(CC) $(ALL_CPPFLAGS) -Idemos $(ALL_CFLAGS) $(ALL_LDFLAGS) -rdynamic -o $@ $< $(DEMO_COMMON) $(STATIC) $(LIBS)

# Programs that need more than the library: their own libraries.
$(BUILD)/bin/gzmq-xmlrpc-server: LIBS += -lhttp_parser -lexpat
# The server's request handling and command line, apart so that fuzz/ can use them.
XMLRPC_C := $(wildcard demos/xmlrpc/*.c)
$(BUILD)/bin/gzmq-xmlrpc-server: DEMO_COMMON += $(XMLRPC_C)
$(BUILD)/bin/gzmq-xmlrpc-server: $(XMLRPC_C) $(wildcard demos/xmlrpc/*.h)
$(BUILD)/bin/gzmq-rpc-bench: LIBS += -lhttp_parser
# SHA-256 for the Majordomo demos' sha256 service (libsodium; not the library's).
$(BUILD)/bin/gzmq-mdworker $(BUILD)/bin/gzmq-mdclient: LIBS += -lsodium

tests: $(TESTS)

# -rdynamic: backtraces in run info and watchdog reports name the tests'
# own functions.
$(BUILD)/tests/%: tests/%.c tests/gz_test.h $(STATIC) $(HEADERS) | $(BUILD)/tests
	$(CC) $(ALL_CPPFLAGS) -Idemos $(ALL_CFLAGS) $(ALL_LDFLAGS) -rdynamic -o $@ $< $(TEST_SRC) $(STATIC) $(LIBS) $(TEST_LIBS)

# Suites that also test demo code (the pipeline's journal) link it in.
JOURNAL_C := demos/common/journal.c demos/common/journal.h
$(BUILD)/tests/test_journal $(BUILD)/tests/test_reliable: TEST_SRC = demos/common/journal.c
$(BUILD)/tests/test_journal $(BUILD)/tests/test_reliable: $(JOURNAL_C)

test: deps
	$(MAKE) --no-print-directory all
	echo '#include <gzmq.h>' | $(CXX) -std=c++11 $(WARN) -Iinclude -fsyntax-only -x c++ -
	BUILD=$(BUILD) sh tests/run.sh $(TESTS)
	BUILD=$(BUILD) VERSION=$(VERSION) CC="$(CC)" sh tests/man_check.sh
	BUILD=$(BUILD) VERSION=$(VERSION) CC="$(CC)" sh tests/gdb/check.sh
	$(MAKE) --no-print-directory BUILD=$(BUILD) install-check

check-asan: deps
	$(MAKE) --no-print-directory BUILD=$(BUILD)-asan SAN=address,undefined CFLAGS="-O1 -g" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  BUILD=$(BUILD)-asan sh tests/run.sh $(patsubst $(BUILD)/%,$(BUILD)-asan/%,$(TESTS))

check-debug: deps
	$(MAKE) --no-print-directory BUILD=$(BUILD)-debug DEBUG=1 all
	BUILD=$(BUILD)-debug sh tests/run.sh $(patsubst $(BUILD)/%,$(BUILD)-debug/%,$(TESTS))

check-tsan: deps
	$(MAKE) --no-print-directory BUILD=$(BUILD)-tsan SAN=thread CFLAGS="-O1 -g" all
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:die_after_fork=0:suppressions=$(CURDIR)/tests/tsan.supp \
	  BUILD=$(BUILD)-tsan sh tests/run.sh $(patsubst $(BUILD)/%,$(BUILD)-tsan/%,$(TESTS))

# memcheck over the default build; greenlet stacks are registered with
# VALGRIND_STACK_REGISTER (stack.c).
check-valgrind: deps
	@command -v valgrind >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q valgrind || \
	  { apt-get update -q && apt-get install -y -q valgrind; }; }
	$(MAKE) --no-print-directory all
	BUILD=$(BUILD) VALGRIND="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$(CURDIR)/tests/valgrind.supp" \
	  sh tests/run.sh $(TESTS)

# The aarch64 switch, cross-built and run under qemu-user (installs the
# cross compiler and qemu-user if missing).
check-aarch64:
	@command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null || \
	  { export DEBIAN_FRONTEND=noninteractive; apt-get update -q && \
	    apt-get install -y -q gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user; }
	mkdir -p $(BUILD)
	aarch64-linux-gnu-gcc -static -O2 $(WARN) -Iinclude -Ilibgzmq -idirafter /usr/include \
	  -D_GNU_SOURCE -o $(BUILD)/ctx-cross-aarch64 tests/ctx_cross.c libgzmq/ctx.c libgzmq/ctx_aarch64.S -lm
	qemu-aarch64 $(BUILD)/ctx-cross-aarch64

check-ucontext: deps
	$(MAKE) --no-print-directory BUILD=$(BUILD)-ucontext CTX=ucontext all
	BUILD=$(BUILD)-ucontext sh tests/run.sh $(patsubst $(BUILD)/%,$(BUILD)-ucontext/%,$(TESTS))

# The README's quick start on a fresh debootstrap (tests/fresh_debian.sh);
# tests the committed HEAD, needs root and the network.
check-fresh:
	sh tests/fresh_debian.sh

demo: deps
	$(MAKE) --no-print-directory all
	BUILD=$(BUILD) sh demos/run_demos.sh

# ---- installation ----
# gdb's auto-load finds DATADIR/auto-load/<the library's path>-gdb.py; with
# PREFIX=/usr that is gdb's own data directory (see tools/gdb/libgzmq-gdb.py).
GDB_AUTOLOAD = $(PREFIX)/share/gdb/auto-load$(LIBDIR)
# cmake/*.cmake.in -> lib/cmake/gzmq/ (find_package(gzmq) in CMake projects).
CMAKE_SUBST = -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
  -e 's|@SOVERSION@|$(SOVERSION)|' -e 's|@VERSION_MAJOR@|$(word 1,$(subst ., ,$(VERSION)))|' \
  -e 's|@VERSION_MINOR@|$(word 2,$(subst ., ,$(VERSION)))|' \
  -e "s|@SIZEOF_VOID_P@|$$(echo | $(CC) -dM -E - | sed -n 's/^\#define __SIZEOF_POINTER__ //p')|"

install: lib demos man
	install -d $(DESTDIR)$(PREFIX)/include/gzmq $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/gzmq.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(wildcard include/gzmq/*.h) $(DESTDIR)$(PREFIX)/include/gzmq/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf libgzmq.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgzmq.so.$(SOVERSION)
	ln -sf libgzmq.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libgzmq.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	  pkgconfig/libgzmq.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libgzmq.pc
	install -d $(DESTDIR)$(LIBDIR)/cmake/gzmq
	for f in gzmqConfig gzmqConfigVersion; do sed $(CMAKE_SUBST) cmake/$$f.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/gzmq/$$f.cmake; done
	$(if $(PROGRAMS),install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/)
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 644 $(BUILD)/man/man1/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(BUILD)/man/man3/*.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 644 $(BUILD)/man/man7/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	install -d $(DESTDIR)$(GDB_AUTOLOAD)
	install -m 644 tools/gdb/libgzmq-gdb.py $(DESTDIR)$(GDB_AUTOLOAD)/libgzmq.so.$(VERSION)-gdb.py
ifeq ($(HAVE_CZMQ),1)
	install -m 644 czmq/include/gzmq/czmq.h $(DESTDIR)$(PREFIX)/include/gzmq/
	install -m 644 $(CZMQ_STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(CZMQ_SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf libgzmq-czmq.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgzmq-czmq.so.$(SOVERSION)
	ln -sf libgzmq-czmq.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libgzmq-czmq.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	  pkgconfig/libgzmq-czmq.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libgzmq-czmq.pc
endif

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/gzmq.h
	rm -rf $(DESTDIR)$(PREFIX)/include/gzmq
	rm -f $(DESTDIR)$(LIBDIR)/libgzmq.a $(DESTDIR)$(LIBDIR)/libgzmq.so*
	rm -f $(DESTDIR)$(LIBDIR)/pkgconfig/libgzmq.pc $(DESTDIR)$(LIBDIR)/pkgconfig/libgzmq-czmq.pc
	rm -f $(DESTDIR)$(LIBDIR)/libgzmq-czmq.a $(DESTDIR)$(LIBDIR)/libgzmq-czmq.so*
	rm -rf $(DESTDIR)$(LIBDIR)/cmake/gzmq
	rm -f $(patsubst $(BUILD)/bin/%,$(DESTDIR)$(PREFIX)/bin/%,$(PROGRAMS))
	for p in $$(sh tools/man.sh list); do rm -f $(DESTDIR)$(PREFIX)/share/man/$$p; done
	rm -f $(DESTDIR)$(GDB_AUTOLOAD)/libgzmq.so.$(VERSION)-gdb.py

# Install into a scratch prefix and build a program against it with
# pkg-config, dynamically and statically.
install-check: lib demos man
	BUILD=$(BUILD) MAKE="$(MAKE)" VERSION=$(VERSION) sh tests/install_check.sh

# ---- Debian packages: dpkg-buildpackage on a copy of the tree (build
# output and .git left out), the .debs collected in $(BUILD)/deb ----
deb:
	rm -rf $(BUILD)/deb
	mkdir -p $(BUILD)/deb/src
	tar -c --exclude='./build*' --exclude=./.git -f - . | tar -x -C $(BUILD)/deb/src
	cd $(BUILD)/deb/src && dpkg-buildpackage -us -uc -b
	rm -rf $(BUILD)/deb/src
	ls $(BUILD)/deb/*.deb
	if command -v lintian >/dev/null; then lintian --fail-on error $(BUILD)/deb/*.changes; \
	else echo "deb: lintian not installed, not run"; fi

# Installs the three packages in a copy of /work/chroot/bookworm (or, if
# there is none, on this machine) and builds and runs programs against them
# (tests/check_deb.sh). Needs root; never part of make test.
check-deb:
	BUILD=$(BUILD) sh tests/check_deb.sh

clean:
	rm -rf build build-asan build-ucontext build-*

# ---- benchmarks: make bench [QUICK=1] (bench/run.sh; never part of make test) ----
QUICK      ?= 0
BENCH_PROGS := switch spawn memory sync locals post zmq_raw $(if $(wildcard include/gzmq/zmq.h),zmq_green proxy)
BENCH_BIN  := $(BENCH_PROGS:%=$(BUILD)/bench/%)
BENCH_PY   := /usr/bin/python3

.PHONY: bench bench-deps

# The peers and the charts: Debian packages, installed only when missing.
bench-deps: deps
	@missing=""; \
	$(BENCH_PY) -c 'import gevent' 2>/dev/null || missing="$$missing python3-gevent"; \
	$(BENCH_PY) -c 'import zmq.green' 2>/dev/null || missing="$$missing python3-zmq"; \
	command -v gnuplot >/dev/null 2>&1 || missing="$$missing gnuplot-nox"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q $$missing || { apt-get update -q && apt-get install -y -q $$missing; }; \
	else echo "benchmark dependencies present"; fi

bench: bench-deps
	$(MAKE) --no-print-directory BUILD=$(BUILD) $(BENCH_BIN)
	BUILD=$(BUILD) QUICK=$(QUICK) BENCH_CMD="make bench$(if $(filter-out build,$(BUILD)), BUILD=$(BUILD))$(if $(filter 1,$(QUICK)), QUICK=1)" \
	  bash bench/run.sh

$(BUILD)/bench/%: bench/%.c bench/bench.h bench/zmq_common.h $(STATIC) $(HEADERS) | $(BUILD)/bench
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(STATIC) $(LIBS)

$(BUILD)/bench:
	mkdir -p $@

# ---- soak: make soak [SOAK_SCALE=0.01] (bench/soak.c; never part of make test) ----
SOAK_SCALE ?= 1

.PHONY: soak

soak: deps
	$(MAKE) --no-print-directory BUILD=$(BUILD) $(BUILD)/bench/soak
	SOAK_SCALE=$(SOAK_SCALE) $(BUILD)/bench/soak

# The reliable pipeline with --journal, PIPELINE_RUNS seeded runs (seeds
# PIPELINE_SEED...) of test_reliable's kill test: each kills the
# ventilator, the sink and a worker with SIGKILL and restarts them.
PIPELINE_RUNS ?= 10
PIPELINE_SEED ?= 1
.PHONY: soak-pipeline
soak-pipeline: deps
	$(MAKE) --no-print-directory all
	BUILD=$(BUILD) GZ_PIPELINE_RUNS=$(PIPELINE_RUNS) GZ_PIPELINE_SEED=$(PIPELINE_SEED) \
	  GZ_TEST_FILTER=ventilator_sink_and_worker_killed_every_task_once $(BUILD)/tests/test_reliable

# ---- fuzzing: make fuzz [FUZZ_SECONDS=60] (libFuzzer, clang; never part of make test) ----
# Each target in fuzz/ runs for FUZZ_SECONDS on its committed seeds and
# regression inputs (fuzz/corpus/TARGET) plus what it finds ($(BUILD)/fuzz/).
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_TARGETS := $(patsubst fuzz/%.c,%,$(wildcard fuzz/*.c))
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
FUZZ_CFLAGS  := -std=gnu11 $(WARN) -O1 -g -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

.PHONY: fuzz fuzz-deps

# libFuzzer is in Debian's libclang-rt-14-dev.
fuzz-deps: deps
	@echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; return (int)n * 0; }' | \
	  $(FUZZ_CC) -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null || \
	  { export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q clang libclang-rt-14-dev; }

fuzz: fuzz-deps
	$(MAKE) --no-print-directory BUILD=$(BUILD) $(FUZZ_BIN)
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz/found-$$t; log=$(BUILD)/fuzz/$$t.log; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s (log: $$log)"; \
	  if $(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -close_fd_mask=3 \
	       -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$t- \
	       $(BUILD)/fuzz/found-$$t fuzz/corpus/$$t >$$log 2>&1; \
	  then grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added)' $$log; \
	  else tail -n 40 $$log; echo "fuzz: $$t FAILED"; fail=1; fi; \
	done; [ $$fail = 0 ]

$(BUILD)/fuzz/%: fuzz/%.c | $(BUILD)/fuzz
	$(FUZZ_CC) $(ALL_CPPFLAGS) -Idemos $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC) $(FUZZ_LIBS)

$(BUILD)/fuzz/xmlrpc_handler: FUZZ_SRC = demos/xmlrpc/handler.c
$(BUILD)/fuzz/xmlrpc_handler: FUZZ_LIBS = -lhttp_parser -lexpat
$(BUILD)/fuzz/xmlrpc_handler: demos/xmlrpc/handler.c demos/xmlrpc/handler.h
$(BUILD)/fuzz/cli: FUZZ_SRC = demos/common/cli.c demos/xmlrpc/options.c
$(BUILD)/fuzz/cli: FUZZ_LIBS = -Wl,--wrap=exit $(STATIC) $(LIBS)
$(BUILD)/fuzz/cli: demos/common/cli.c demos/common/cli.h demos/xmlrpc/options.c \
                   demos/xmlrpc/options.h demos/xmlrpc/handler.h $(STATIC)

$(BUILD)/fuzz:
	mkdir -p $@
