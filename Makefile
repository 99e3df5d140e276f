# apns-gateway: build, test and a local demo against the bundled mock APNs.
# Requires Swift 6 and (Debian) libnghttp2-dev libssl-dev libsqlite3-dev pkg-config; the demo's examples use socat.

SWIFT ?= swift
CONFIGURATION ?= debug
BIN = .build/$(CONFIGURATION)

.PHONY: all build release test run keys check-config clean

all: build

build:
	$(SWIFT) build -c $(CONFIGURATION)

release:
	$(SWIFT) build -c release

# The tests copy the provider key to private temporary files themselves; keys is here for `run`.
test:
	$(SWIFT) test

# git checkouts make files 0644: the gateway refuses a .p8 key that group or others can read.
keys:
	chmod 600 certs/AuthKey_TESTKEY123.p8 certs/localhost.key

check-config: build keys
	$(BIN)/apns-gateway check-config --config config/local.json

# Builds, starts apns-mock and the gateway on config/local.json, sends a demo batch, shows the results and
# keeps serving until Ctrl-C.
run: build keys
	BIN=$(BIN) scripts/run-local.sh

clean:
	rm -rf run
