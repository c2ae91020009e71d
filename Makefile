# rootlet: build and install.
#
#   make                      cargo build --release
#   make install              PREFIX=/usr/local, DESTDIR= for staging (packages)
#   make uninstall            removes exactly what install put there
#   make check                scripts/test.sh (the whole suite)
#
# Directories (all overridable on the command line):
#   PREFIX=/usr/local  BINDIR=$(PREFIX)/bin  MANDIR=$(PREFIX)/share/man
#   USERGENERATORDIR, USERUNITDIR: with PREFIX=/usr they come from
#     `pkg-config systemd --variable=systemdusergeneratordir|systemduserunitdir`
#     (the distribution's own paths, e.g. /usr/lib/systemd/user-generators); for any other
#     prefix, and when pkg-config or systemd.pc is missing, they are
#     $(PREFIX)/lib/systemd/user-generators and $(PREFIX)/lib/systemd/user, which systemd
#     also searches for PREFIX=/usr/local. (systemd.pc's values ignore PREFIX, so using them
#     for /usr/local would put files under /usr behind the package manager's back.)
#   BASHCOMPDIR, ZSHCOMPDIR, FISHCOMPDIR: shell completion directories.
#   TARGETDIR=target/release: where `make install` takes the binaries from
#     ($(CARGO_TARGET_DIR)/release when cargo's CARGO_TARGET_DIR is set, as cargo puts them there).
#
# Unit templates units/*.in are filled at install time: @bindir@ becomes $(BINDIR).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
CARGO ?= cargo
CARGOFLAGS ?=
TARGETDIR ?= $(or $(CARGO_TARGET_DIR),target)/release
INSTALL ?= install

ifeq ($(PREFIX),/usr)
PC_GENERATORDIR := $(shell pkg-config systemd --variable=systemdusergeneratordir 2>/dev/null)
PC_UNITDIR := $(shell pkg-config systemd --variable=systemduserunitdir 2>/dev/null)
endif
USERGENERATORDIR ?= $(or $(PC_GENERATORDIR),$(PREFIX)/lib/systemd/user-generators)
USERUNITDIR ?= $(or $(PC_UNITDIR),$(PREFIX)/lib/systemd/user)
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d

BINS := rootlet rootlet-wait-online
GENERATOR := rootlet-user-generator
UNITS_IN := $(wildcard units/*.in)
UNITS := $(notdir $(UNITS_IN:.in=))
MAN1 := $(wildcard man/*.1)
MAN5 := $(wildcard man/*.5)
MAN8 := $(wildcard man/*.8)

.PHONY: all build install uninstall check clean print-dirs

all: build

build:
	$(CARGO) build --release --locked $(CARGOFLAGS)

# bash-completion and fish load a completion file by command name: one file per command.
install:
	@for b in $(BINS) $(GENERATOR); do \
	    test -x "$(TARGETDIR)/$$b" || { echo "make install: $(TARGETDIR)/$$b missing: run 'make' first" >&2; exit 1; }; \
	done
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(USERGENERATORDIR)" "$(DESTDIR)$(USERUNITDIR)"
	$(INSTALL) -m755 $(addprefix $(TARGETDIR)/,$(BINS)) "$(DESTDIR)$(BINDIR)/"
	$(INSTALL) -m755 "$(TARGETDIR)/$(GENERATOR)" "$(DESTDIR)$(USERGENERATORDIR)/$(GENERATOR)"
	@set -e; for f in $(UNITS_IN); do \
	    u=$$(basename "$$f" .in); \
	    echo "  $$f -> $(DESTDIR)$(USERUNITDIR)/$$u"; \
	    sed -e 's|@bindir@|$(BINDIR)|g' "$$f" > "$(DESTDIR)$(USERUNITDIR)/$$u.tmp"; \
	    chmod 644 "$(DESTDIR)$(USERUNITDIR)/$$u.tmp"; \
	    mv "$(DESTDIR)$(USERUNITDIR)/$$u.tmp" "$(DESTDIR)$(USERUNITDIR)/$$u"; \
	done
	$(INSTALL) -d "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(MANDIR)/man5" "$(DESTDIR)$(MANDIR)/man8"
	$(if $(MAN1),$(INSTALL) -m644 $(MAN1) "$(DESTDIR)$(MANDIR)/man1/")
	$(if $(MAN5),$(INSTALL) -m644 $(MAN5) "$(DESTDIR)$(MANDIR)/man5/")
	$(if $(MAN8),$(INSTALL) -m644 $(MAN8) "$(DESTDIR)$(MANDIR)/man8/")
	$(INSTALL) -Dm644 completions/rootlet.bash "$(DESTDIR)$(BASHCOMPDIR)/rootlet"
	$(INSTALL) -Dm644 completions/_rootlet "$(DESTDIR)$(ZSHCOMPDIR)/_rootlet"
	$(INSTALL) -Dm644 completions/rootlet.fish "$(DESTDIR)$(FISHCOMPDIR)/rootlet.fish"
	$(INSTALL) -m644 completions/rootlet.bash "$(DESTDIR)$(BASHCOMPDIR)/rootlet-wait-online"
	$(INSTALL) -m644 completions/rootlet.fish "$(DESTDIR)$(FISHCOMPDIR)/rootlet-wait-online.fish"

uninstall:
	rm -f $(addprefix "$(DESTDIR)$(BINDIR)/,$(addsuffix ",$(BINS)))
	rm -f "$(DESTDIR)$(USERGENERATORDIR)/$(GENERATOR)"
	rm -f $(addprefix "$(DESTDIR)$(USERUNITDIR)/,$(addsuffix ",$(UNITS)))
	rm -f $(addprefix "$(DESTDIR)$(MANDIR)/man1/,$(addsuffix ",$(notdir $(MAN1))))
	rm -f $(addprefix "$(DESTDIR)$(MANDIR)/man5/,$(addsuffix ",$(notdir $(MAN5))))
	rm -f $(addprefix "$(DESTDIR)$(MANDIR)/man8/,$(addsuffix ",$(notdir $(MAN8))))
	rm -f "$(DESTDIR)$(BASHCOMPDIR)/rootlet" "$(DESTDIR)$(BASHCOMPDIR)/rootlet-wait-online" \
	    "$(DESTDIR)$(ZSHCOMPDIR)/_rootlet" "$(DESTDIR)$(FISHCOMPDIR)/rootlet.fish" \
	    "$(DESTDIR)$(FISHCOMPDIR)/rootlet-wait-online.fish"

check:
	scripts/test.sh

clean:
	$(CARGO) clean

print-dirs:
	@echo "BINDIR=$(BINDIR)"
	@echo "USERGENERATORDIR=$(USERGENERATORDIR)"
	@echo "USERUNITDIR=$(USERUNITDIR)"
	@echo "MANDIR=$(MANDIR)"
	@echo "BASHCOMPDIR=$(BASHCOMPDIR)"
	@echo "ZSHCOMPDIR=$(ZSHCOMPDIR)"
	@echo "FISHCOMPDIR=$(FISHCOMPDIR)"
