# checkpointd — build, test, demo, bench, install.
# On a fresh Debian 12 machine:  make demo  |  make test
SHELL := /bin/bash
.DEFAULT_GOAL := build

SWIFT        ?= swift
CONFIGURATION ?= release
PREFIX       ?= /usr
SYSCONFDIR   ?= /etc
UNITDIR      ?= /lib/systemd/system
UDEVDIR      ?= /lib/udev/rules.d
DESTDIR      ?=
SHARED       ?= $(abspath $(CURDIR)/../shared)
SWIFT_BUILD_FLAGS ?=
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BINDIR_DEBUG  = $(shell $(SWIFT) build --show-bin-path 2>/dev/null)
BINDIR_REL    = $(shell $(SWIFT) build -c $(CONFIGURATION) --show-bin-path 2>/dev/null)
MODEL        := face_detection_yunet_2022mar.onnx

# Debian packages needed to build, test, demo and benchmark.
DEBS := pkg-config g++ libc6-dev make git openssl curl ca-certificates python3 \
        libopencv-dev opencv-data python3-opencv v4l-utils libcurl4-openssl-dev libsqlite3-dev \
        libturbojpeg0-dev libpng-dev systemd udev qemu-system-x86 qemu-system-data busybox-static kmod cpio xz-utils bc sqlite3 \
        dpkg-dev strace e2fsprogs python3-jsonschema python3-yaml python3-venv \
        chromium chromium-driver python3-selenium python3-pytest fonts-noto-core \
        libzxing-dev python3-segno \
        prometheus libsystemd-dev \
        postgresql \
        debhelper lintian

.PHONY: deps build build-debug build-static manual-tool check test test-unit test-system demo bench soak fuzz install deb clean

## deps: install the Debian packages above (idempotent: skips what is installed).
deps:
	@command -v $(SWIFT) >/dev/null || { echo "make deps: no Swift toolchain on PATH (need Swift 6.1+, e.g. /opt/swift/usr/bin)" >&2; exit 1; }
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "make deps: all Debian packages present"; fi

## build: release binaries (checkpointd, checkpointctl, checkpoint-receiver).
build:
	$(SWIFT) build -c $(CONFIGURATION) $(SWIFT_BUILD_FLAGS)

build-debug:
	$(SWIFT) build

## test: every test — unit tests (swift test), then system tests (CLI, unit file, PTY, HTTPS, VMs).
test: deps
	$(SWIFT) build
	$(MAKE) test-unit test-system

## check: the fast tier for every change (minutes): unit tests and the system tests without a VM, a package build,
## the browser or the long crash and soak loops. CI and `make test` run everything.
## System tests are bash scripts (Tests/system/*.test.sh) or pytest modules on the harness (Tests/system/test_*.py);
## in the pytest modules, tests marked slow, vm or browser are left out of the fast tier too.
SLOW_SYSTEM_TESTS := camera-vm.test.sh powercut-vm.test.sh systemd-vm.test.sh deb.test.sh test_kiosk_screen.py \
                     test_uplink_crash.py test_soak.py fuzz.test.sh test_fleet_view.py \
                     test_monitoring_still.py
FAST_SYSTEM_TESTS = $(filter-out $(SLOW_SYSTEM_TESTS),$(notdir $(wildcard Tests/system/*.test.sh Tests/system/test_*.py)))
check: deps
	$(SWIFT) build
	$(SWIFT) test --parallel
	BIN="$(BINDIR_DEBUG)" SHARED="$(SHARED)" SYSTEM_TESTS="$(FAST_SYSTEM_TESTS)" \
	  SYSTEM_MARKERS="not slow and not vm and not browser" Tests/system/run.sh

test-unit:
	$(SWIFT) test --parallel

test-system:
	BIN="$(BINDIR_DEBUG)" SHARED="$(SHARED)" Tests/system/run.sh

## demo: the main job end to end on this machine (replayed camera, simulated sensor, daemon, receiver, kiosk).
demo: deps build
	BIN="$(BINDIR_REL)" SHARED="$(SHARED)" /usr/bin/python3 Tests/demo/demo.py

## bench: benchmarks; prints one table and writes it to .build/bench/.
bench: deps build
	BIN="$(BINDIR_REL)" SHARED="$(SHARED)" /usr/bin/python3 Tests/Benchmarks/run.py

## soak: the demo pipeline for DURATION (e.g. 10m, 8h): RSS slope, fd count, lost/duplicated records.
DURATION ?= 10m
soak: deps build
	BIN="$(BINDIR_REL)" SHARED="$(SHARED)" DURATION="$(DURATION)" /usr/bin/python3 Tests/soak/soak.py

## fuzz: libFuzzer over every parser of outside input, FUZZ_RUNS inputs each (default one million).
FUZZ_RUNS ?= 1000000
fuzz: deps
	FUZZ_RUNS="$(FUZZ_RUNS)" SHARED="$(SHARED)" Tests/Fuzz/run.sh

## install: DESTDIR-aware install of the binaries, units, udev rules, sysusers files, man pages and shell completions,
## the kiosk screen and its optional session, the installed config (identity and endpoint unset: the daemon stops with
## exit 78 until they are set) and the examples under $(DOCDIR)/examples. Nothing is enabled; the face model is not
## installed (`checkpointctl model install PATH`, README); an existing file under /etc is never overwritten.
DOCDIR       ?= $(PREFIX)/share/doc/checkpointd
MANDIR       ?= $(PREFIX)/share/man
BASHCOMPDIR  ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR   ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR  ?= $(PREFIX)/share/fish/vendor_completions.d
PROGRAMS     := checkpointd checkpointctl checkpoint-receiver
# The calibration file systemd/checkpointd.toml names ([thermal] calibration).
CALIBRATION_EXAMPLE := $(notdir $(shell sed -n 's/^calibration = "\(.*\)"/\1/p' systemd/checkpointd.toml))
GENMAN_SCRATCH ?= .build/tools
GENERATE_MANUAL ?= $(GENMAN_SCRATCH)/debug/generate-manual
# The man pages' date: the build's SOURCE_DATE_EPOCH (dpkg-buildpackage sets it from debian/changelog), else the
# last commit's, so a rebuild of the same tree writes the same pages.
MAN_DATE     ?= $(shell date -u -d @$${SOURCE_DATE_EPOCH:-$$(git -C $(CURDIR) log -1 --format=%ct 2>/dev/null || date +%s)} +%F)
install: $(GENERATE_MANUAL)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(UDEVDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/checkpointd/calibration $(DESTDIR)$(SYSCONFDIR)/checkpointd/checkpointd.toml.d \
	  $(DESTDIR)$(PREFIX)/share/checkpointd/models $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(PREFIX)/lib/sysusers.d \
	  $(DESTDIR)$(SYSCONFDIR)/default $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(addprefix $(BINDIR_REL)/,$(PROGRAMS)) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 systemd/checkpointd.service $(DESTDIR)$(UNITDIR)/checkpointd.service
	install -m 0644 systemd/checkpoint-kiosk.service $(DESTDIR)$(UNITDIR)/checkpoint-kiosk.service
	install -m 0644 systemd/checkpoint-receiver.service $(DESTDIR)$(UNITDIR)/checkpoint-receiver.service
	install -m 0644 systemd/checkpointd.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/checkpointd.conf
	install -m 0644 systemd/checkpoint-kiosk.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/checkpoint-kiosk.conf
	install -m 0644 systemd/checkpoint-receiver.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/checkpoint-receiver.conf
	install -m 0644 systemd/70-checkpointd.rules $(DESTDIR)$(UDEVDIR)/70-checkpointd.rules
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	@# Examples: documentation, never read by the daemon.
	install -m 0644 $(wildcard examples/*.toml) calibration/*.toml calibration/README.md $(DESTDIR)$(DOCDIR)/examples/
	@# The installed configuration: never overwrite what a technician has edited.
	@for f in systemd/checkpointd.toml; do t=$(DESTDIR)$(SYSCONFDIR)/checkpointd/$$(basename $$f); \
	  if [ -e $$t ]; then echo "keeping existing $$t"; else install -m 0644 $$f $$t; fi; done
	@# The calibration the installed configuration names, until `checkpointctl calibrate thermal` writes this kiosk's
	@# own: the example, marked as one (screening answers "invalid: not calibrated"). Its template stays in
	@# $(PREFIX)/share/checkpointd/calibration/ (the package's postinst copies it when the file is absent).
	install -d $(DESTDIR)$(PREFIX)/share/checkpointd/calibration
	install -m 0644 calibration/$(CALIBRATION_EXAMPLE) $(DESTDIR)$(PREFIX)/share/checkpointd/calibration/
	@t=$(DESTDIR)$(SYSCONFDIR)/checkpointd/calibration/$(CALIBRATION_EXAMPLE); \
	  if [ -e $$t ]; then echo "keeping existing $$t"; else install -m 0644 calibration/$(CALIBRATION_EXAMPLE) $$t; fi
	@t=$(DESTDIR)$(SYSCONFDIR)/default/checkpoint-kiosk; \
	  if [ -e $$t ]; then echo "keeping existing $$t"; else install -m 0644 systemd/checkpoint-kiosk.default $$t; fi
	@t=$(DESTDIR)$(SYSCONFDIR)/default/checkpoint-receiver; \
	  if [ -e $$t ]; then echo "keeping existing $$t"; else install -m 0644 systemd/checkpoint-receiver.default $$t; fi
	@# Man pages and shell completions, generated from the binaries' own argument parsers (swift-argument-parser).
	@# (Blank lines, which groff warns about in a man page, and the bash script's #! line, which a sourced completion
	@# does not need, are dropped.)
	@set -e; for p in $(PROGRAMS); do \
	  $(GENERATE_MANUAL) $(BINDIR_REL)/$$p --date $(MAN_DATE) --output-directory $(DESTDIR)$(MANDIR)/man1; \
	  sed -i '/^[[:space:]]*$$/d' $(DESTDIR)$(MANDIR)/man1/$$p.1; chmod 0644 $(DESTDIR)$(MANDIR)/man1/$$p.1; \
	  $(BINDIR_REL)/$$p --generate-completion-script bash | sed '1{/^#!/d}' > $(DESTDIR)$(BASHCOMPDIR)/$$p; \
	  $(BINDIR_REL)/$$p --generate-completion-script zsh > $(DESTDIR)$(ZSHCOMPDIR)/_$$p; \
	  $(BINDIR_REL)/$$p --generate-completion-script fish > $(DESTDIR)$(FISHCOMPDIR)/$$p.fish; \
	  chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/$$p $(DESTDIR)$(ZSHCOMPDIR)/_$$p $(DESTDIR)$(FISHCOMPDIR)/$$p.fish; \
	done
	@# The kiosk screen's static files ([ui] dir), when the tree has them: directories 0755, files 0644.
	@if [ -d ui ]; then \
	  (cd ui && find . -type d -exec install -d -m 0755 $(DESTDIR)$(PREFIX)/share/checkpointd/ui/{} \; \
	    && find . -type f -exec install -m 0644 {} $(DESTDIR)$(PREFIX)/share/checkpointd/ui/{} \;); \
	else echo "no ui/ in the tree: the kiosk screen is not installed"; fi

## The man pages' generator: swift-argument-parser's generate-manual tool (what its GenerateManual plugin runs), built
## once from the checkout SwiftPM already fetched; it reads each program's --experimental-dump-help.
manual-tool: $(GENERATE_MANUAL)
$(GENERATE_MANUAL):
	@src=$$(ls -d .build/checkouts/swift-argument-parser $(DEB_SCRATCH)/checkouts/swift-argument-parser 2>/dev/null | head -1); \
	if [ -z "$$src" ]; then $(SWIFT) package resolve >/dev/null && src=.build/checkouts/swift-argument-parser; fi; \
	$(SWIFT) build --package-path $$src --scratch-path $(GENMAN_SCRATCH) --product generate-manual

clean:
	rm -rf .build

## deb: the Debian packages (checkpointd, checkpoint-receiver and their -dbgsym) in $(DEB_DIR)/, built with debhelper
## (debian/) by dpkg-buildpackage: the static release build, `make install` into debian/tmp, units, udev rules,
## service users, Depends from the binaries (dh_shlibdeps).
DEB_VERSION ?= $(shell sed -n 's/.*string = "\(.*\)"/\1/p' Sources/CheckpointCore/Support/Version.swift)
DEB_ARCH    ?= $(shell dpkg --print-architecture)
# Its own scratch path: the static build does not relink (clobber) the binaries of `make build`.
DEB_SCRATCH ?= .build/deb-build
DEB_DIR     ?= .build/deb
# Full RELRO and immediate binding, as Debian's hardening flags ask (swift build does not read LDFLAGS).
STATIC_LDFLAGS := -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now
# DEB_BUILD_OPTIONS=noopt (Debian's "compile with a minimum of optimization"): a debug build instead of release.
# `make test` packages that way with DEB_SCRATCH=.build, where its debug build is already made, so the three programs
# are relinked (1-3 min, see below) instead of a second full build (~25 min of CI's 2 cores); `make deb` is release.
STATIC_CONFIGURATION := $(if $(filter noopt,$(DEB_BUILD_OPTIONS)),debug,release)
# The objects of `make test`'s build were compiled for the shared runtime, whose libraries carry their own
# dependencies: linked statically, Foundation's static archives then lack theirs. Named here, as one group (they
# refer to each other), at the end of the link. Only Hummingbird's three modules are recompiled (SwiftPM does
# at each switch between shared and static); the other objects stay as the shared-runtime build made them.
STATIC_DEBUG_LDFLAGS := -Xlinker --start-group \
  $(foreach l,Foundation FoundationEssentials FoundationInternationalization CoreFoundation _FoundationICU \
    _FoundationCollections _FoundationCShims dispatch BlocksRuntime stdc++,-Xlinker -l$(l)) -Xlinker --end-group
## build-static: release binaries (debug with noopt) with the Swift runtime linked in (a kiosk has no Swift
## toolchain). System libraries (OpenCV, libcurl, SQLite, libturbojpeg, libpng, ZXing) stay shared; dh_shlibdeps
## turns them into Depends.
build-static:
	$(SWIFT) build -c $(STATIC_CONFIGURATION) --static-swift-stdlib --scratch-path $(DEB_SCRATCH) $(STATIC_LDFLAGS) \
	  $(if $(filter debug,$(STATIC_CONFIGURATION)),$(STATIC_DEBUG_LDFLAGS)) $(SWIFT_BUILD_FLAGS)
	@for p in $(PROGRAMS); do if ldd $(DEB_SCRATCH)/$(STATIC_CONFIGURATION)/$$p | grep -E 'libswift|libFoundation|libdispatch|/opt/swift'; then \
	  echo "make build-static: $$p still needs the Swift runtime as shared libraries (above)" >&2; exit 1; fi; done
deb: deps
	@[ "$$(dpkg-parsechangelog -S Version)" = "$(DEB_VERSION)" ] || { echo "make deb: debian/changelog's version \
	  $$(dpkg-parsechangelog -S Version) is not the program's $(DEB_VERSION) (Sources/CheckpointCore/Support/Version.swift)" >&2; exit 1; }
	mkdir -p $(DEB_DIR)
	DEB_DESTDIR=$(abspath $(DEB_DIR)) DEB_SCRATCH=$(DEB_SCRATCH) SWIFT=$(SWIFT) dpkg-buildpackage -b -us -uc \
	  --buildinfo-option=-u$(abspath $(DEB_DIR)) --buildinfo-file=$(DEB_DIR)/checkpointd_$(DEB_VERSION)_$(DEB_ARCH).buildinfo \
	  --changes-option=-u$(abspath $(DEB_DIR)) --changes-file=$(DEB_DIR)/checkpointd_$(DEB_VERSION)_$(DEB_ARCH).changes
	@echo "built $(DEB_DIR)/checkpointd_$(DEB_VERSION)_$(DEB_ARCH).deb"
	@echo "built $(DEB_DIR)/checkpoint-receiver_$(DEB_VERSION)_$(DEB_ARCH).deb"
