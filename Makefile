# The two commands (see README.md):
#   make demo   runs the product on this machine (sets up what it needs first)
#   make test   runs every test, lint and fuzz smoke run (what CI runs through .ci/run)
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
FUZZ_SECONDS ?= 30

.PHONY: help setup ui lint unit test test-dates test-windows windows windows-installer fuzz-smoke demo deb deb-test

help:
	@echo "make demo   - run the product (mock central + daemon + virtual card + app)"
	@echo "make test   - run every test (what CI runs)"
	@echo "make deb    - build the Linux package (target/debian/oqs-terminal_*.deb)"
	@echo "make windows            - cross-build the Windows programs (linted with clippy for that target)"
	@echo "make test-windows       - run the Windows daemon and tool under Wine (part of make test)"
	@echo "make windows-installer  - the Windows installer (NSIS), built on Linux"

setup:
	@scripts/setup-debian.sh

# The UI bundle (ui/dist) is embedded into the app binary, so it is built before anything compiles the app.
ui:
	cd ui && npm ci --no-audit --no-fund && npm run check && npm run lint && npm run build

lint: ui
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	# The daemon as packaged: without the test-only features the workspace build unifies in (virtual-reader).
	$(CARGO) clippy -p reader-daemon --locked -- -D warnings

unit: ui
	# The end-to-end tests run the binaries of other packages, which `cargo test` alone does not build. With
	# --tests the binaries get the same features as the test build, so nextest reuses every crate (with --bins
	# alone, tract and the image crates were built twice).
	$(CARGO) build --workspace --bins --tests --locked
	$(CARGO) nextest run --workspace --locked --profile ci --no-tests=pass -E 'not (binary(windows_wine) | binary(windows_installer))'
	$(CARGO) test --workspace --doc --locked

# The date-sensitive tests again at pinned dates that break date code: just after midnight JST on New Year's
# Day (still 12-31 in UTC), a month's last evening, a leap day, and a date years ahead. Every process of a test
# reads OQS_TEST_NOW through oqs-clock (the unit step ran them at the default date). Nothing reads the calendar.
DATED_TESTS := package(mock-central) | package(oqs-clock) | package(reader-daemon) | package(facility-store) | (package(e2e) & (binary(checkin) | binary(emergency) | binary(unconfirmed)))
TEST_DATES := 2027-01-01T00:30:00+09:00 2027-01-31T23:50:00+09:00 2028-02-29T09:00:00+09:00 2035-07-01T12:00:00+09:00
test-dates:
	@rc=0; for d in $(TEST_DATES); do \
		echo "== date-sensitive tests at $$d"; \
		OQS_TEST_NOW=$$d $(CARGO) nextest run --workspace --locked --profile ci -E '$(DATED_TESTS)' || rc=1; \
	done; exit $$rc

# The Windows programs, cross-built for x86_64-pc-windows-gnu with clippy -D warnings on that target
# (scripts/windows.sh), then run under Wine: a request relayed over mutual TLS, `oqs.exe` over the named pipe with
# the token from Credential Manager, a client with a wrong token refused, the store key kept across a restart, a
# kiosk PIN check-in with an in-process virtual card (tests/e2e/tests/windows_wine.rs).
windows:
	@scripts/windows.sh build

test-windows: windows
	$(CARGO) nextest run --workspace --locked --profile ci -E 'binary(windows_wine)'

# Release programs and the app for Windows, and the NSIS installer made with makensis (installer/windows/); then
# that installer installed, upgraded and uninstalled under Wine (tests/e2e/tests/windows_installer.rs).
windows-installer: ui
	@scripts/windows.sh installer
	OQS_WINDOWS_INSTALLER="$$(ls -t $(CURDIR)/target/windows-installer/oqs-terminal-setup-*.exe | head -n 1)" \
		$(CARGO) nextest run --workspace --locked --profile ci -E 'binary(windows_installer)'

fuzz-smoke:
	@scripts/fuzz-smoke.sh $(FUZZ_SECONDS)

# Builds the .deb from the debug binaries `unit` built, installs it on this machine, runs the installed
# daemon and `oqs doctor`, removes and purges it (scripts/test-deb.sh says why not debootstrap).
deb-test:
	@scripts/test-deb.sh

deb: ui
	@scripts/build-deb.sh

test: setup ui lint unit test-windows test-dates deb-test fuzz-smoke

demo: setup ui
	@scripts/demo.sh
