# apns-gateway: build, test and a local demo against the bundled mock APNs.
# Requires Swift 6; `run` and `test` first install the Debian packages they need (scripts/install-packages.sh).

SWIFT ?= swift
CONFIGURATION ?= debug
BIN = .build/$(CONFIGURATION)

.PHONY: all packages build release test run keys check-config clean

all: build

# The Debian packages the build, the tests and the demo need: installed when missing (sudo only when not root).
packages:
	scripts/install-packages.sh

build:
	$(SWIFT) build -c $(CONFIGURATION)

release:
	$(SWIFT) build -c release

# The tests copy the provider key to private temporary files themselves; keys is here for `run`.
test: packages keys
	$(SWIFT) test

# git checkouts make files 0644: the gateway refuses a .p8 key that group or others can read.
keys:
	chmod 600 certs/AuthKey_TESTKEY123.p8 certs/localhost.key

check-config: build keys
	$(BIN)/apns-gateway check-config --config config/local.json

# Builds, starts apns-mock and the gateway on config/local.json, sends a demo batch, shows the results and
# keeps serving until Ctrl-C.
run: packages keys
	$(SWIFT) build -c $(CONFIGURATION)
	BIN=$(BIN) scripts/run-local.sh

clean:
	rm -rf run
