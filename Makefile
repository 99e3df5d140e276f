# apns-gateway: build, test and a local demo against the bundled mock APNs.
# Requires Swift 6; `run` and `test` first install the Debian packages they need (scripts/install-packages.sh).

SWIFT ?= swift
CONFIGURATION ?= debug
BIN = .build/$(CONFIGURATION)

# make install [PREFIX=/usr/local] [DESTDIR=staging]: the release binary, the systemd unit, an example
# configuration and the man page (INSTALL_CONFIGURATION=debug installs a debug build).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL_CONFIGURATION ?= release

.PHONY: all packages build release test run keys check-config install uninstall clean

all: build

# The Debian packages the build, the tests and the demo need: installed when missing (sudo only when not root).
packages:
	scripts/install-packages.sh

build:
	$(SWIFT) build -c $(CONFIGURATION)

release:
	$(SWIFT) build -c release

# The tests copy the provider key to private temporary files themselves; keys is here for `run`.
# The tests need a few more packages (tinyproxy, the PostgreSQL server: see scripts/install-packages.sh --tests).
test: keys
	scripts/install-packages.sh --tests
	$(SWIFT) test

# git checkouts make files 0644: the gateway refuses a .p8 key that group or others can read.
keys:
	chmod 600 certs/AuthKey_TESTKEY123.p8 certs/localhost.key

check-config: build keys
	$(BIN)/apns-gateway check-config --config config/local.json

# Builds, starts apns-mock and the gateway on config/local.json, sends a demo batch, shows the results and
# keeps serving until Ctrl-C (RUN_ONCE=1: stops after the results).
run: packages keys
	$(SWIFT) build -c $(CONFIGURATION)
	BIN=$(BIN) RUN_ONCE=$(RUN_ONCE) scripts/run-local.sh

install:
	$(SWIFT) build -c $(INSTALL_CONFIGURATION) --product apns-gateway
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/apns-gateway
	install -m 0755 .build/$(INSTALL_CONFIGURATION)/apns-gateway $(DESTDIR)$(BINDIR)/apns-gateway
	sed -e 's|@bindir@|$(BINDIR)|g' -e 's|@sysconfdir@|$(SYSCONFDIR)|g' packaging/apns-gateway.service.in \
		> $(DESTDIR)$(UNITDIR)/apns-gateway.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/apns-gateway.service
	install -m 0644 docs/apns-gateway.8 $(DESTDIR)$(MANDIR)/man8/apns-gateway.8
	install -m 0644 packaging/config.example.json $(DESTDIR)$(SYSCONFDIR)/apns-gateway/config.example.json

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/apns-gateway $(DESTDIR)$(UNITDIR)/apns-gateway.service \
		$(DESTDIR)$(MANDIR)/man8/apns-gateway.8 $(DESTDIR)$(SYSCONFDIR)/apns-gateway/config.example.json

clean:
	rm -rf run
