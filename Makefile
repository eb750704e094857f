# ngx_rag — build the nginx dynamic module, the daemons and the tests.
#
#   make            module + rag-worker rag-ingest rag-ask rag-admin rag-bot
#   make asan       the same under AddressSanitizer + UBSan (build-asan/)
#   make bench      the bench/ programs (also built by `make`)
#   make test       unit tests + prove -r t/
#   make deps       install the Debian packages (root)
#   make demo       build and run the whole path locally (README)
#   make check      the whole test suite as CI runs it
#   make fuzz       libFuzzer targets (clang) in build-fuzz/
#   make install    programs, module, SQL, units, manual pages (DESTDIR,
#                   PREFIX; below)
#   make deb        Debian packages (dpkg-buildpackage) into ../
#   make coverage   unit + prove tests on a gcov build (build-cov/), line
#                   coverage per directory (lcov; HTML in build-cov/html)
#
# Layout rules the Makefile relies on (so new files need no edits here):
#   lib/*.c                 -> $(B)/librag.a, linked into every program
#   worker/*.c, worker/*/*.c, bot/*.c
#                           -> objects; files named *_main.c are programs,
#                              named after the file: worker/rag_ask_main.c
#                              becomes $(B)/rag-ask, and
#                              worker/admin/rag_admin_main.c $(B)/rag-admin;
#                              every worker/ folder is on the include path
#   man/NAME.N              -> manual page NAME in section N, installed in
#                              $(MANDIR)/manN (t/83-manpages.t wants one
#                              per program)
#   t/unit/test_*.c         -> one test binary each, run by t/unit/run.sh
#   t/unit/dbtest_*.c       -> test binaries that need a database, run
#                              by t/90-stores.t

SHELL    := /bin/bash
B        ?= build
CC       ?= cc
PKGS      = libxml-2.0 libcurl yajl libpq openssl libzstd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN      = -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow \
            -Wformat=2 -Wno-format-truncation -Wstrict-prototypes \
            -Wmissing-prototypes
OPT      ?= -O2 -g
SAN      ?=
CFLAGS_ALL = -std=gnu11 -D_GNU_SOURCE $(OPT) $(WARN) $(SAN) -fPIC \
             -Ilib $(WORKER_DIRS:%=-I%) $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lstemmer -lwslay -lpthread -lm $(LDFLAGS)

LIB_SRCS    := $(wildcard lib/*.c)
WORKER_DIRS := worker $(patsubst %/,%,$(wildcard worker/*/))
WORKER_SRCS := $(filter-out %_main.c,$(wildcard $(WORKER_DIRS:%=%/*.c)))
WORKER_HDRS := $(wildcard $(WORKER_DIRS:%=%/*.h))
BOT_SRCS    := $(filter-out %_main.c,$(wildcard bot/*.c))
WORKER_MAINS:= $(wildcard $(WORKER_DIRS:%=%/*_main.c))
BOT_MAINS   := $(wildcard bot/*_main.c)
UNIT_SRCS   := $(wildcard t/unit/test_*.c)
# t/unit/dbtest_*.c need a database: built with the unit tests, run by
# t/90-stores.t, which starts one and runs every dbtest_* program
DBTEST_SRCS := $(wildcard t/unit/dbtest_*.c)

LIB_OBJS    := $(LIB_SRCS:%.c=$(B)/%.o)
WORKER_OBJS := $(WORKER_SRCS:%.c=$(B)/%.o)
BOT_OBJS    := $(BOT_SRCS:%.c=$(B)/%.o)
prog_name    = $(subst _,-,$(patsubst %_main,%,$(notdir $(basename $(1)))))
WORKER_PROGS:= $(foreach m,$(WORKER_MAINS),$(B)/$(call prog_name,$(m)))
BOT_PROGS   := $(foreach m,$(BOT_MAINS),$(B)/$(call prog_name,$(m)))
UNIT_BINS   := $(UNIT_SRCS:t/unit/%.c=$(B)/t/%) \
               $(DBTEST_SRCS:t/unit/%.c=$(B)/t/%)

NGX_SRC  ?= /usr/share/nginx/src
NGX_BLD   = $(abspath $(B))/nginx
MODULE    = $(NGX_BLD)/ngx_rag_module.so
MODULE_SRCS := config $(wildcard ngx_rag_module/*.c ngx_rag_module/*.h) \
               $(LIB_SRCS) $(wildcard lib/*.h)

.PHONY: FORCE install install-man install-conf deb pkg-test valgrind-test demo demo-stop check fuzz-smoke all progs module unit test asan asan-test deps fuzz clean \
        migrate check-format coverage bench print-ldlibs

all: progs module unit bench

progs: $(WORKER_PROGS) $(BOT_PROGS)
unit: $(UNIT_BINS)
module: $(MODULE)

$(B)/%.o: %.c $(wildcard lib/*.h bot/*.h) $(WORKER_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(B)/librag.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define worker_prog
$(B)/$(call prog_name,$(1)): $(B)/$(basename $(1)).o $(WORKER_OBJS) $(B)/librag.a
	$$(CC) $$(SAN) -o $$@ $$^ $$(LDLIBS_ALL)
endef
$(foreach m,$(WORKER_MAINS),$(eval $(call worker_prog,$(m))))

define bot_prog
$(B)/$(call prog_name,$(1)): $(B)/$(basename $(1)).o $(BOT_OBJS) $(B)/librag.a
	$$(CC) $$(SAN) -o $$@ $$^ $$(LDLIBS_ALL)
endef
$(foreach m,$(BOT_MAINS),$(eval $(call bot_prog,$(m))))

# Some unit tests #include a worker/ or bot/ source to reach its static
# functions, so any of those sources can change a test binary.
$(B)/t/%: t/unit/%.c $(wildcard t/unit/*.h) $(B)/librag.a $(WORKER_SRCS) $(BOT_SRCS) \
          $(WORKER_HDRS) $(wildcard bot/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -It/unit -o $@ $< $(B)/librag.a $(LDLIBS_ALL)

# test_svb checks the codec against the format's reference implementation
# (Debian's libstreamvbyte); nothing else links it (see lib/rag_svb.h).
$(B)/t/test_svb: LDLIBS_ALL += -lstreamvbyte

# The benches' programs (bench/*.c; bench/*.sh run them) are built with
# `all` from this tree, so a lib/ change that breaks one shows in the next
# build rather than when someone next measures. `make print-ldlibs` gives
# the scripts the same link line for the baselines they build.
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(B)/bench/%)
bench: $(BENCH_BINS)
$(B)/bench/%: bench/%.c $(wildcard bench/*.h) t/unit/test_rng.h $(WORKER_OBJS) \
              $(B)/librag.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Ibench -It/unit -o $@ $< $(WORKER_OBJS) \
	    $(B)/librag.a $(LDLIBS_ALL) -lstreamvbyte

print-ldlibs:
	@echo '$(LDLIBS_ALL) -lstreamvbyte'

# The module is built the way Debian's dh_nginx does: configure nginx's
# source tree with the distribution's flags and a private --builddir, then
# make only the modules. Nothing is written under $(NGX_SRC).
# Reconfigure when the set of module/lib sources changes (config globs it).
$(NGX_BLD)/srcs.list: FORCE
	@mkdir -p $(NGX_BLD)
	@echo '$(sort $(wildcard lib/*.c ngx_rag_module/*.c))' > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

$(NGX_BLD)/Makefile: config Makefile $(NGX_BLD)/srcs.list
	@test -x $(NGX_SRC)/configure || \
	    { echo "nginx-dev missing: run 'make deps'" >&2; exit 1; }
	mkdir -p $(NGX_BLD)
	cd $(NGX_SRC) && . ./conf_flags && ./configure \
	    --with-cc-opt="-g -O2 -fPIC -D_GNU_SOURCE $(SAN) -Wno-unused-parameter -Wno-format-truncation $(CPPFLAGS) $(CFLAGS)" \
	    --with-ld-opt="-fPIC $(SAN) $(LDFLAGS)" "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module=$(CURDIR) --builddir=$(NGX_BLD) \
	    > $(NGX_BLD)/configure.log 2>&1 || \
	    { tail -30 $(NGX_BLD)/configure.log; exit 1; }

$(MODULE): $(NGX_BLD)/Makefile $(MODULE_SRCS)
	$(MAKE) -f $(NGX_BLD)/Makefile -C $(NGX_SRC) modules \
	    > $(NGX_BLD)/make.log 2>&1 || \
	    { grep -E 'error:|Error [0-9]' -A3 $(NGX_BLD)/make.log | head -60; exit 1; }

# Sanitizer build: a separate tree so normal and ASan objects never mix.
asan:
	$(MAKE) B=build-asan OPT="-O1 -g" \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all

test: all
	t/unit/run.sh $(B)
	RAG_BUILD=$(abspath $(B)) prove -r t/

asan-test: asan
	t/unit/run.sh build-asan
	RAG_BUILD=$(abspath build-asan) RAG_ASAN=1 prove -r t/

# The whole suite, as CI runs it: normal build + tests, sanitizer build +
# tests, the daemons' tests under valgrind, then each fuzz target for a
# bounded time on its seed corpus.
FUZZ_SECONDS ?= 20
check:
	$(MAKE) check-format
	$(MAKE) test
	$(MAKE) pkg-test
	$(MAKE) asan-test
	$(MAKE) valgrind-test
	$(MAKE) fuzz-smoke

fuzz-smoke: fuzz
	@set -e; for f in $(FUZZ_BINS); do \
	    name=$$(basename $$f); corpus=fuzz/corpus/$${name#fuzz_}; \
	    mkdir -p build-fuzz/work/$$name; \
	    echo "fuzz: $$name $(FUZZ_SECONDS)s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	        -print_final_stats=0 build-fuzz/work/$$name $$corpus \
	        > build-fuzz/work/$$name.log 2>&1 || \
	        { tail -40 build-fuzz/work/$$name.log; exit 1; }; \
	done; echo "fuzz: $(words $(FUZZ_BINS)) targets, no crash"

# The daemons' black-box tests again under valgrind memcheck (slow; the
# programs run 20-50x slower, so only the tests that tolerate it).
VALGRIND_TESTS ?= t/41-worker-answer.t t/43-worker-offline.t t/20-ingest-files.t t/55-bot-worker-e2e.t
valgrind-test: all
	RAG_BUILD=$(abspath $(B)) RAG_VALGRIND=1 prove $(VALGRIND_TESTS)

# --- install --------------------------------------------------------------
# `make install` lays out what the Debian package ships (debian/rules runs
# it with PREFIX=/usr); DESTDIR stages it. It creates no users and writes
# nothing under /etc: `make install-conf` copies the example configs there
# without overwriting any. The migrations land in $(DATADIR)/sql, which
# rag-admin finds relative to its own path (lib/rag_paths.c).
PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
DATADIR        ?= $(PREFIX)/share/ngx-rag
NGX_MODDIR     ?= $(PREFIX)/lib/nginx/modules
NGX_MODCONFDIR ?= $(PREFIX)/share/nginx/modules-available
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR         ?= $(PREFIX)/share/man
MAN_PAGES      := $(wildcard man/*.[1-8])
SYSCONFDIR     ?= /etc
INSTALL        ?= install

install: progs module install-man
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(NGX_MODDIR) \
	    $(DESTDIR)$(NGX_MODCONFDIR) $(DESTDIR)$(DATADIR)/sql \
	    $(DESTDIR)$(DATADIR)/examples $(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -m 0755 $(WORKER_PROGS) $(BOT_PROGS) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 $(MODULE) $(DESTDIR)$(NGX_MODDIR)/ngx_rag_module.so
	echo 'load_module $(NGX_MODDIR)/ngx_rag_module.so;' \
	    > $(DESTDIR)$(NGX_MODCONFDIR)/mod-http-rag.conf
	chmod 0644 $(DESTDIR)$(NGX_MODCONFDIR)/mod-http-rag.conf
	$(INSTALL) -m 0644 sql/*.sql $(DESTDIR)$(DATADIR)/sql/
	$(INSTALL) -m 0644 conf/nginx.conf conf/worker.conf conf/bot.conf \
	    conf/secrets.conf.example $(DESTDIR)$(DATADIR)/examples/
	for u in conf/systemd/*.service; do \
	    sed 's|/usr/local/bin/|$(BINDIR)/|g; s|/etc/ngx_rag/|$(SYSCONFDIR)/ngx_rag/|g' \
	        $$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u) && \
	    chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u) || exit 1; \
	done

# Manual pages uncompressed, as upstream installs do: the Debian package
# compresses them (dh_compress: gzip -9n); man-db reads both.
install-man:
	for m in $(MAN_PAGES); do \
	    d=$(DESTDIR)$(MANDIR)/man$${m##*.} && $(INSTALL) -d $$d && \
	    $(INSTALL) -m 0644 $$m $$d/ || exit 1; \
	done

# Example configs into $(SYSCONFDIR)/ngx_rag, keeping any that exist;
# secrets.conf is made 0640 (group ownership is the installer's job: the
# Debian package gives it to ngx-rag).
install-conf:
	$(INSTALL) -d $(DESTDIR)$(SYSCONFDIR)/ngx_rag
	for f in worker.conf bot.conf; do \
	    test -e $(DESTDIR)$(SYSCONFDIR)/ngx_rag/$$f || \
	    $(INSTALL) -m 0644 conf/$$f $(DESTDIR)$(SYSCONFDIR)/ngx_rag/$$f || exit 1; \
	done
	test -e $(DESTDIR)$(SYSCONFDIR)/ngx_rag/secrets.conf || \
	    $(INSTALL) -m 0640 conf/secrets.conf.example \
	        $(DESTDIR)$(SYSCONFDIR)/ngx_rag/secrets.conf

# Binary packages from a copy of the tracked files (dpkg-buildpackage
# writes into the parent directory, so never build in the work tree):
# DEB_OUT (default build-pkg/) receives the .deb files.
DEB_OUT ?= build-pkg
deb:
	scripts/build-deb.sh $(DEB_OUT)

# Builds the packages, installs them on this machine (root), runs the
# demo question through the installed programs and module, purges them.
pkg-test:
	RAG_BUILD=$(abspath $(B)) RAG_PKG_TEST=1 prove -v t/80-package.t
# Line coverage: the unit and prove tests on an instrumented build
# (build-cov/, -O0 --coverage, the module included), then the lines hit
# per source directory. Processes stopped with SIGKILL by a test leave
# no counts (gcov writes them at exit). COV_TESTS narrows the prove run;
# the target fails if a test failed, after printing the figures.
COV_TESTS ?= t/
COV = build-cov
coverage:
	$(MAKE) B=$(COV) OPT="-O0 -g" SAN="--coverage" all
	lcov --quiet --zerocounters --directory $(COV)
	@rc=0; t/unit/run.sh $(COV) || rc=1; \
	RAG_BUILD=$(abspath $(COV)) prove -r $(COV_TESTS) || rc=1; \
	lcov --quiet --capture --directory $(COV) \
	    --output-file $(COV)/coverage.raw.info 2>$(COV)/lcov.log && \
	lcov --quiet --extract $(COV)/coverage.raw.info '$(CURDIR)/bot/*' \
	    '$(CURDIR)/worker/*' '$(CURDIR)/lib/*' '$(CURDIR)/ngx_rag_module/*' \
	    --output-file $(COV)/coverage.info 2>>$(COV)/lcov.log && \
	genhtml --quiet --output-directory $(COV)/html $(COV)/coverage.info \
	    2>>$(COV)/lcov.log || { tail -20 $(COV)/lcov.log; exit 1; }; \
	awk -F: -v root='$(CURDIR)/' -f scripts/coverage-dirs.awk \
	    $(COV)/coverage.info; \
	echo "coverage: per-file report in $(COV)/html/index.html"; exit $$rc

migrate: progs
	$(B)/rag-admin migrate

deps:
	sh .ci/deps.sh

# The README's first command: build and run the whole path locally.
demo:
	scripts/demo.sh

demo-stop:
	scripts/demo-stop.sh

FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=build-fuzz/%)
FUZZ_LIB_SRCS := $(LIB_SRCS) $(WORKER_SRCS) $(BOT_SRCS)
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE -g -O1 -Ilib $(WORKER_DIRS:%=-I%) -Ibot \
              $(PKG_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJS := $(FUZZ_LIB_SRCS:%.c=build-fuzz/obj/%.o)
fuzz: $(FUZZ_BINS)
build-fuzz/obj/%.o: %.c $(wildcard lib/*.h bot/*.h) $(WORKER_HDRS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<
build-fuzz/libfuzzrag.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^
build-fuzz/%: fuzz/%.c build-fuzz/libfuzzrag.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    build-fuzz/libfuzzrag.a $(LDLIBS_ALL)

# One code style over every C file in the tree: .clang-format at the top;
# ngx_rag_module/.clang-format declares nginx's style, kept by hand.
FORMAT_SRCS = $(wildcard lib/*.[ch] $(WORKER_DIRS:%=%/*.[ch]) bot/*.[ch] \
	ngx_rag_module/*.[ch] fuzz/*.c t/unit/*.[ch] bench/*.[ch] bench/*.cc)
check-format:
	@clang-format --dry-run --Werror $(FORMAT_SRCS) && \
	    echo "check-format: $(words $(FORMAT_SRCS)) files in style"

clean:
	rm -rf build build-asan build-fuzz build-deb build-pkg build-cov
