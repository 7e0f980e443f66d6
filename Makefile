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
        libopencv-dev opencv-data python3-opencv libv4l-dev v4l-utils libcurl4-openssl-dev libsqlite3-dev \
        libturbojpeg0-dev systemd udev qemu-system-x86 qemu-system-data busybox-static kmod cpio xz-utils bc sqlite3 \
        dpkg-dev fakeroot

.PHONY: deps build build-debug test test-unit test-system demo bench soak fuzz install deb clean

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

test-unit:
	$(SWIFT) test --parallel

test-system:
	BIN="$(BINDIR_DEBUG)" SHARED="$(SHARED)" Tests/system/run.sh

## demo: the main job end to end on this machine (replayed camera, simulated sensor, daemon, receiver, kiosk).
demo: deps build
	BIN="$(BINDIR_REL)" SHARED="$(SHARED)" Tests/demo/demo.sh

## bench: benchmarks; prints one table and writes it to .build/bench/.
bench: deps build
	BIN="$(BINDIR_REL)" SHARED="$(SHARED)" Tests/Benchmarks/run.sh

## soak: the demo pipeline for DURATION (e.g. 10m, 8h): RSS slope, fd count, lost/duplicated records.
DURATION ?= 10m
soak: deps build
	BIN="$(BINDIR_REL)" SHARED="$(SHARED)" DURATION="$(DURATION)" Tests/soak/soak.sh

## fuzz: libFuzzer over every parser of outside input, FUZZ_RUNS inputs each (default one million).
FUZZ_RUNS ?= 1000000
fuzz: deps
	FUZZ_RUNS="$(FUZZ_RUNS)" SHARED="$(SHARED)" Tests/Fuzz/run.sh

## install: DESTDIR-aware install of binaries, unit, udev rules, example config and calibration, face model.
install:
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(UDEVDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/checkpointd/calibration $(DESTDIR)$(PREFIX)/share/checkpointd/models \
	  $(DESTDIR)$(PREFIX)/share/doc/checkpointd
	install -m 0755 $(BINDIR_REL)/checkpointd $(BINDIR_REL)/checkpointctl $(BINDIR_REL)/checkpoint-receiver $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 systemd/checkpointd.service $(DESTDIR)$(UNITDIR)/checkpointd.service
	install -m 0644 systemd/60-checkpointd.rules $(DESTDIR)$(UDEVDIR)/60-checkpointd.rules
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/checkpointd/README.md
	@# Configuration: never overwrite what a technician has edited.
	@for f in systemd/checkpointd.toml; do t=$(DESTDIR)$(SYSCONFDIR)/checkpointd/$$(basename $$f); \
	  if [ -e $$t ]; then echo "keeping existing $$t"; else install -m 0644 $$f $$t; fi; done
	@for f in calibration/*.toml; do t=$(DESTDIR)$(SYSCONFDIR)/checkpointd/calibration/$$(basename $$f); \
	  if [ -e $$t ]; then echo "keeping existing $$t"; else install -m 0644 $$f $$t; fi; done
	@if [ -f $(SHARED)/models/$(MODEL) ]; then \
	  install -m 0644 $(SHARED)/models/$(MODEL) $(DESTDIR)$(PREFIX)/share/checkpointd/models/$(MODEL); \
	  install -m 0644 $(SHARED)/models/LICENSE-yunet.txt $(DESTDIR)$(PREFIX)/share/checkpointd/models/LICENSE-yunet.txt; \
	else echo "face model not found at $(SHARED)/models: install $(MODEL) by hand (see README)"; fi

clean:
	rm -rf .build

## deb: a Debian package (binaries, unit, udev rules, conffiles, user creation) in .build/deb/.
DEB_VERSION ?= $(shell sed -n 's/.*string = "\(.*\)"/\1/p' Sources/CheckpointCore/Support/Version.swift)
DEB_ARCH    ?= $(shell dpkg --print-architecture)
# The Swift runtime is linked statically: a kiosk has no Swift toolchain.
deb: deps
	$(MAKE) --no-print-directory build SWIFT_BUILD_FLAGS=--static-swift-stdlib
	rm -rf .build/deb/root && mkdir -p .build/deb/root/DEBIAN
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/.build/deb/root
	@# Conffiles: the technician's config and calibration survive upgrades.
	cd .build/deb/root && find etc -type f | sed 's#^#/#' > DEBIAN/conffiles
	install -m 0755 systemd/debian/postinst systemd/debian/prerm systemd/debian/postrm .build/deb/root/DEBIAN/
	deps=$$(cd .build/deb/root && mkdir -p debian && touch debian/control && \
	  dpkg-shlibdeps -O -e usr/bin/checkpointd -e usr/bin/checkpointctl -e usr/bin/checkpoint-receiver 2>/dev/null \
	  | sed 's/^shlibs:Depends=//'; rm -rf debian); \
	sed -e "s/@VERSION@/$(DEB_VERSION)/" -e "s/@ARCH@/$(DEB_ARCH)/" -e "s/@DEPENDS@/$${deps:-libc6}, adduser/" \
	  systemd/debian/control.in > .build/deb/root/DEBIAN/control
	fakeroot dpkg-deb --build -Zxz .build/deb/root .build/deb/checkpointd_$(DEB_VERSION)_$(DEB_ARCH).deb
	@echo "built .build/deb/checkpointd_$(DEB_VERSION)_$(DEB_ARCH).deb"
