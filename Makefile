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
        postgresql

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

## install: DESTDIR-aware install of binaries, units, udev rules, example config and calibration, face model,
## the kiosk screen and its optional session (unit, sysusers file, /etc/default file; nothing is enabled).
install:
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(UDEVDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/checkpointd/calibration $(DESTDIR)$(PREFIX)/share/checkpointd/models \
	  $(DESTDIR)$(PREFIX)/share/doc/checkpointd $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(SYSCONFDIR)/default
	install -m 0755 $(BINDIR_REL)/checkpointd $(BINDIR_REL)/checkpointctl $(BINDIR_REL)/checkpoint-receiver $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 systemd/checkpointd.service $(DESTDIR)$(UNITDIR)/checkpointd.service
	install -m 0644 systemd/checkpoint-kiosk.service $(DESTDIR)$(UNITDIR)/checkpoint-kiosk.service
	install -m 0644 systemd/checkpoint-kiosk.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/checkpoint-kiosk.conf
	install -m 0644 systemd/70-checkpointd.rules $(DESTDIR)$(UDEVDIR)/70-checkpointd.rules
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/checkpointd/README.md
	@# Configuration: never overwrite what a technician has edited.
	@for f in systemd/checkpointd.toml; do t=$(DESTDIR)$(SYSCONFDIR)/checkpointd/$$(basename $$f); \
	  if [ -e $$t ]; then echo "keeping existing $$t"; else install -m 0644 $$f $$t; fi; done
	@t=$(DESTDIR)$(SYSCONFDIR)/default/checkpoint-kiosk; \
	  if [ -e $$t ]; then echo "keeping existing $$t"; else install -m 0644 systemd/checkpoint-kiosk.default $$t; fi
	@for f in calibration/*.toml; do t=$(DESTDIR)$(SYSCONFDIR)/checkpointd/calibration/$$(basename $$f); \
	  if [ -e $$t ]; then echo "keeping existing $$t"; else install -m 0644 $$f $$t; fi; done
	@if [ -f $(SHARED)/models/$(MODEL) ]; then \
	  install -m 0644 $(SHARED)/models/$(MODEL) $(DESTDIR)$(PREFIX)/share/checkpointd/models/$(MODEL); \
	  install -m 0644 $(SHARED)/models/LICENSE-yunet.txt $(DESTDIR)$(PREFIX)/share/checkpointd/models/LICENSE-yunet.txt; \
	else echo "face model not found at $(SHARED)/models: install $(MODEL) by hand (see README)"; fi
	@# The kiosk screen's static files ([ui] dir), when the tree has them: directories 0755, files 0644.
	@if [ -d ui ]; then \
	  (cd ui && find . -type d -exec install -d -m 0755 $(DESTDIR)$(PREFIX)/share/checkpointd/ui/{} \; \
	    && find . -type f -exec install -m 0644 {} $(DESTDIR)$(PREFIX)/share/checkpointd/ui/{} \;); \
	else echo "no ui/ in the tree: the kiosk screen is not installed"; fi

clean:
	rm -rf .build

## deb: a Debian package (binaries, unit, udev rules, conffiles, user creation) in .build/deb/.
DEB_VERSION ?= $(shell sed -n 's/.*string = "\(.*\)"/\1/p' Sources/CheckpointCore/Support/Version.swift)
DEB_ARCH    ?= $(shell dpkg --print-architecture)
# Its own scratch path: the static build does not relink (clobber) the binaries of `make build`.
DEB_SCRATCH ?= .build/deb-build
DEB_DIR     ?= .build/deb
DEB_ROOT     = $(abspath $(DEB_DIR))/root
DEB_BIN      = $(abspath $(DEB_SCRATCH))/release
# The Swift runtime is linked statically: a kiosk has no Swift toolchain. System libraries (OpenCV, libcurl,
# SQLite, libturbojpeg, libpng) stay shared; dpkg-shlibdeps turns them into Depends.
deb: deps
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(DEB_SCRATCH) $(SWIFT_BUILD_FLAGS)
	@if ldd $(DEB_BIN)/checkpointd | grep -E 'libswift|libFoundation|libdispatch|/opt/swift'; then \
	  echo "make deb: checkpointd still needs the Swift runtime as shared libraries (above)" >&2; exit 1; fi
	rm -rf $(DEB_ROOT) && mkdir -p $(DEB_ROOT)/DEBIAN
	$(MAKE) --no-print-directory install DESTDIR=$(DEB_ROOT) BINDIR_REL=$(DEB_BIN)
	@# Debug info stays in the build; the symbol table stays for backtraces.
	strip --strip-debug $(DEB_ROOT)/usr/bin/checkpointd $(DEB_ROOT)/usr/bin/checkpointctl $(DEB_ROOT)/usr/bin/checkpoint-receiver
	@# Conffiles: the technician's config and calibration survive upgrades and removal (only purge deletes them).
	cd $(DEB_ROOT) && find etc -type f | sort | sed 's#^#/#' > DEBIAN/conffiles
	cd $(DEB_ROOT) && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\n' | sort | xargs md5sum > DEBIAN/md5sums
	install -m 0755 systemd/debian/postinst systemd/debian/prerm systemd/debian/postrm $(DEB_ROOT)/DEBIAN/
	@# dpkg-shlibdeps wants a debian/control naming the package; a missing dependency is an error, not "libc6".
	cd $(DEB_ROOT) && mkdir -p debian && printf 'Source: checkpointd\n\nPackage: checkpointd\nArchitecture: any\n' > debian/control && \
	  dpkg-shlibdeps -O -e usr/bin/checkpointd -e usr/bin/checkpointctl -e usr/bin/checkpoint-receiver \
	    > $(abspath $(DEB_DIR))/shlibdeps.txt; rc=$$?; rm -rf debian; exit $$rc
	deps=$$(sed -n 's/^shlibs:Depends=//p' $(DEB_DIR)/shlibdeps.txt); [ -n "$$deps" ] || { echo "make deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }; \
	size=$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1); \
	sed -e "s/@VERSION@/$(DEB_VERSION)/" -e "s/@ARCH@/$(DEB_ARCH)/" -e "s/@DEPENDS@/$$deps, adduser/" -e "s/@SIZE@/$$size/" \
	  systemd/debian/control.in > $(DEB_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group --build -Zxz $(DEB_ROOT) $(DEB_DIR)/checkpointd_$(DEB_VERSION)_$(DEB_ARCH).deb
	@echo "built $(DEB_DIR)/checkpointd_$(DEB_VERSION)_$(DEB_ARCH).deb"
