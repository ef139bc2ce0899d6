# Makefile for stripe_webhook, built with PGXS.
#
#   make                  build the extension and the HTTP relay
#   make install          install both (DESTDIR is honoured)
#   make installcheck     run pgTAP (pg_prove) and isolation suites against a
#                         running server (PGHOST/PGPORT/PGUSER as for psql)
#   make unittest         plain-C unit tests of the signature parser (no server)
#   make dist             stripe_webhook-<version>.zip of the committed tree
#                         (git archive of HEAD), as uploaded to PGXN
#
# WITH_RELAY=no leaves the relay out of all/install/clean (the Debian
# packaging builds it once, apart from the per-version extension builds).
#
# The README's test command (test/run.sh) wraps all of this with a throwaway
# cluster.

EXTENSION = stripe_webhook
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(EXTENSION).control)

MODULE_big = stripe_webhook
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
# No headers are installed: src/*.h declare the module's internals, and the
# signature API (src/stripe_sig.h) is compiled into stripe_webhook.so, which
# other code cannot link against (PostgreSQL 16+ builds modules with
# -fvisibility=hidden).

# The hand-edited source is extension/stripe_webhook.sql; the versioned install
# script is built from it.  Older full scripts and every upgrade script are
# shipped as they are.
DATA_built = extension/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard extension/$(EXTENSION)--*.sql))

SHLIB_LINK = -lcrypto
PG_CPPFLAGS = -I$(srcdir)/src

# isolationtester specs: test/isolation/specs/*.spec
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=output_iso --load-extension=$(EXTENSION)

EXTRA_CLEAN = $(DATA_built) output_iso test/unit/test_sig

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

extension/$(EXTENSION)--$(EXTVERSION).sql: extension/$(EXTENSION).sql
	cp $< $@

# pgTAP suites run under pg_prove (installcheck runs them before isolation).
PG_PROVE ?= pg_prove
installcheck: prove-installcheck
.PHONY: prove-installcheck unittest
prove-installcheck:
	$(PG_PROVE) --ext .sql -v test/pgtap/

# Plain-C unit tests of the signature code: no PostgreSQL involved.
unittest:
	$(MAKE) -C test/unit run

# The HTTP relay (relay/, its own Makefile): built by "make", installed by
# "make install" into $(DESTDIR)$(bindir) (RELAY_BINDIR overrides it).
WITH_RELAY ?= yes
ifneq ($(WITH_RELAY),no)
all: relay
install: install-relay
clean: clean-relay
endif
.PHONY: relay install-relay clean-relay
relay:
	$(MAKE) -C relay PG_CONFIG=$(PG_CONFIG)
install-relay: relay
	$(MAKE) -C relay install PG_CONFIG=$(PG_CONFIG)
clean-relay:
	$(MAKE) -C relay clean

# PGXS tracks no header dependencies unless PostgreSQL was configured with
# --enable-depend: rebuild every object when a header changes.
$(OBJS): $(wildcard src/*.h)

# PGXN distribution: the committed tree at HEAD, under stripe_webhook-<version>/
# (META.json's version must equal default_version; test/e2e/91_meta.t checks).
DIST = $(EXTENSION)-$(EXTVERSION).zip
.PHONY: dist
dist:
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ -o $(DIST) HEAD
