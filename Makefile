# Bulwark — build, run, test.  The two commands a person needs:
#   make run     install what is missing, build, initialise ./var, serve
#   make check   build and run every test (what .ci/run calls)
# Plain `make` builds build/bulwark (release, hardened).

CC      ?= cc
CLANG   ?= clang
DATA    ?= var
LISTEN  ?= 127.0.0.1:8443

LIBS_PC := libwebsockets openssl libsodium libgcrypt jansson sqlite3 liboath libqrencode libseccomp libcmark libidn2
PKG_CFLAGS = $(shell pkg-config --cflags $(LIBS_PC) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(LIBS_PC) 2>/dev/null) -lunistring -lpthread

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 \
           -Wno-unused-parameter -Wvla -Wpointer-arith
BASE    := -std=c11 -D_GNU_SOURCE -Isrc $(WARN)
RELEASE := -O2 -g -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE \
           -fstack-clash-protection -fcf-protection
RELLD   := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
SANFL   := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
           -fno-omit-frame-pointer
ASAN    := -O1 -g $(SANFL) -DBW_TESTING

SRCS    := $(sort $(wildcard src/*.c))
LIBSRCS := $(filter-out src/main.c,$(SRCS))
HDRS    := $(wildcard src/*.h)
OBJS    := $(SRCS:src/%.c=build/obj/%.o)
AOBJS   := $(SRCS:src/%.c=build/asan/obj/%.o)
ALIBOBJ := $(LIBSRCS:src/%.c=build/asan/obj/%.o)
UNITS   := $(patsubst tests/unit/%.c,build/asan/%,$(filter-out tests/unit/unit.c,$(wildcard tests/unit/test_*.c)))
FUZZERS := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c))

.PHONY: all deps web run check unit fuzz api e2e bench bench-chat bench-docs clean asan
all: build/bulwark

deps:
	@sh scripts/deps.sh

build/obj/%.o: src/%.c $(HDRS) | deps
	@mkdir -p $(@D)
	$(CC) $(BASE) $(RELEASE) $(PKG_CFLAGS) -c $< -o $@

build/bulwark: $(OBJS)
	$(CC) $(RELEASE) $(RELLD) -o $@ $(OBJS) $(PKG_LIBS)

build/asan/obj/%.o: src/%.c $(HDRS) | deps
	@mkdir -p $(@D)
	$(CC) $(BASE) $(ASAN) $(PKG_CFLAGS) -c $< -o $@

build/asan/bulwark: $(AOBJS)
	$(CC) $(ASAN) -o $@ $(AOBJS) $(PKG_LIBS)
asan: build/asan/bulwark

build/asan/test_%: tests/unit/test_%.c tests/unit/unit.h $(ALIBOBJ)
	$(CC) $(BASE) $(ASAN) $(PKG_CFLAGS) -Itests/unit -o $@ $< $(ALIBOBJ) $(PKG_LIBS)

build/fuzz/%: fuzz/%.c $(LIBSRCS) $(HDRS) | deps
	@mkdir -p $(@D)
	$(CLANG) -std=c11 -D_GNU_SOURCE -Isrc -g -O1 -DBW_TESTING \
	  -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -o $@ $< $(LIBSRCS) $(PKG_LIBS)

web: deps
	@if [ -f web/package.json ]; then sh scripts/web-build.sh; fi

unit: $(UNITS)
	@sh tests/run-unit.sh $(UNITS)

fuzz: $(FUZZERS)
	@sh tests/run-fuzz.sh $(FUZZERS)

api: build/asan/bulwark web
	@sh tests/run-api.sh

e2e: build/asan/bulwark web
	@sh tests/run-e2e.sh

check: build/bulwark build/asan/bulwark web
	@sh tests/check.sh

run: build/bulwark web
	@sh scripts/run.sh $(DATA) $(LISTEN)

bench: build/bulwark
	@sh bench/run.sh
	@bash bench/chat.sh
	@bash bench/docs.sh

# the chat benchmark alone (10,000 users; Bulwark, ejabberd, mosquitto)
bench-chat: build/bulwark
	@bash bench/chat.sh

# the co-editing benchmark alone (one document, 50..1,000 editors; Bulwark, ShareDB)
bench-docs: build/bulwark
	@bash bench/docs.sh

clean:
	rm -rf build
