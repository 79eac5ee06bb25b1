# mdevd — the one entry point: build, check, demo, bench, fuzz, install.
#
#   make            build ./mdevd/mdevd
#   make demo       the main job on the embedded default: a real-kernel guest (QEMU) with the
#                   kernel's sample mdev drivers, where mdevd lists, plans and applies a policy
#   make check      every test: unit (plain and ASan+UBSan), CLI golden files, the real-kernel VM
#   make bench      benchmarks, written to docs/benchmarks.md
#
# `make demo` and `make check` install what they need on Debian 12 (scripts/deps.sh).

# Linked at build time: small libraries every command uses.
PKGS      := libpci libcjson uuid libprotobuf-c yaml-0.1
# Headers only: their adapters dlopen() them on first use (mdevd/dlopen.h), so that a
# command like `mdevd types` does not pay for loading gRPC, libvirt and their hundred
# dependencies at exec.
DLOPEN_PKGS := grpc_unsecure libvirt libxml-2.0 libsystemd libmicrohttpd libcurl
CC        ?= cc
BUILD     ?= build/release
SAN       ?=
PREFIX    ?= /usr/local
WERROR    ?= $(if $(CI),-Werror,)

# A missing .pc file stops the build here, naming it, rather than as a missing header later
# (pkg-config prints nothing at all when one of several packages is missing). Not for the
# goals that build nothing themselves, nor with deps among the goals: deps installs the
# packages, and check, demo, bench and fuzz run it before they build in a sub-make.
NO_BUILD_GOALS := deps check demo bench fuzz clean clean-vm format format-check check-image \
                  vm-prepare
ifeq ($(filter deps,$(MAKECMDGOALS)),)
ifneq ($(filter-out $(NO_BUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(shell command -v pkg-config),)
$(error pkg-config is not installed. Run `make deps` (scripts/deps.sh) first)
endif
PKG_MISSING := $(strip $(foreach p,$(PKGS) $(DLOPEN_PKGS),\
                 $(if $(shell pkg-config --exists $(p) && echo y),,$(p))))
ifneq ($(PKG_MISSING),)
$(error pkg-config does not know: $(PKG_MISSING). Run `make deps` (scripts/deps.sh) first)
endif
endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(DLOPEN_PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldl -pthread

CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wno-unused-parameter -Wvla $(WERROR)
ALL_CFLAGS := -std=gnu11 $(CFLAGS) $(WARN) $(SAN) -D_GNU_SOURCE -Iinclude -iquote mdevd -iquote policy \
              $(PKG_CFLAGS) -MMD -MP
LDLIBS   := $(PKG_LIBS)

LIB_SRCS := $(filter-out mdevd/cli/main.c,$(wildcard mdevd/*/*.c)) $(wildcard policy/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)

# The device-plugin API (mdevd/kubernetes/deviceplugin.proto): protoc-c generates its C code
# into $(BUILD)/gen at build time; only mdevd/kubernetes/deviceplugin.c and its unit test
# include the header.
GEN_DIR  := $(BUILD)/gen
GEN_HDRS := $(GEN_DIR)/mdevd/kubernetes/deviceplugin.pb-c.h
GEN_OBJS := $(GEN_DIR)/mdevd/kubernetes/deviceplugin.pb-c.o
LIB_OBJS += $(GEN_OBJS)
ALL_CFLAGS += -I$(GEN_DIR)
MAIN_OBJ := $(BUILD)/mdevd/cli/main.o
BIN      := $(BUILD)/mdevd/mdevd
TESTS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps check check-apiserver check-kubelet check-leaks check-unit check-asan check-cli check-daemon \
        check-deploy check-image check-hostdev check-libvirt check-vm check-vm-libvirt check-vm-vfio check-vm-cluster demo bench format \
        format-check install clean fuzz fuzz-build vm-prepare bench-vm clean-vm

all: mdevd/mdevd

# Replaced by rename, so a running mdevd (a test's daemon) keeps its own copy.
mdevd/mdevd: $(BIN)
	cp $(BIN) $@.tmp && mv -f $@.tmp $@

$(BIN): $(MAIN_OBJ) $(BUILD)/libmdevd.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libmdevd.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(BUILD)/libmdevd.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(shell pkg-config --cflags cmocka) -o $@ $< \
		$(BUILD)/libmdevd.a $(LDLIBS) $(shell pkg-config --libs cmocka)

$(GEN_DIR)/mdevd/kubernetes/%.pb-c.c $(GEN_DIR)/mdevd/kubernetes/%.pb-c.h: mdevd/kubernetes/%.proto
	@mkdir -p $(GEN_DIR)
	protoc-c --c_out=$(GEN_DIR) $<
	@# The Registration service's stub has a member named after its method: `register`, a C keyword.
	sed -i 's/(\*register)/(*register_)/' $(GEN_DIR)/mdevd/kubernetes/$*.pb-c.h

$(GEN_DIR)/mdevd/kubernetes/%.pb-c.o: $(GEN_DIR)/mdevd/kubernetes/%.pb-c.c
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/mdevd/kubernetes/deviceplugin.o $(BUILD)/tests/test_deviceplugin: $(GEN_HDRS)

# The device plugins against a kubelet stand-in (Python grpcio); ends "N passed, N failed".
check-kubelet: mdevd/mdevd
	@tests/kubelet/run.sh

# kubelet's own device manager (k8s.io/kubernetes pkg/kubelet/cm/devicemanager, built from the
# Go module proxy into /var/cache/mdevd-k8s) against mdevd; ends "N passed, N failed".
check-devicemanager: mdevd/mdevd
	@tests/k8s/run.sh

# `mdevd run --policy-source kubevirt|hyperconverged` against a real kube-apiserver and etcd
# on 127.0.0.1 (built like the kubelet): CR edits, node labels, restarts, 410, a revoked
# token; needs root. Ends "N passed, N failed".
check-apiserver: mdevd/mdevd
	@tests/k8s/apiserver.sh

deps:
	@scripts/deps.sh

# Unit tests against fixture trees; the runner ends with "N passed, N failed".
check-unit: $(TESTS) mdevd/mdevd
	@tests/unit/run.sh $(TESTS)

check-asan:
	$(MAKE) BUILD=build/asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=all" CFLAGS="-O1 -g" build/asan/tests-ok

build/asan/tests-ok: $(TESTS)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 tests/unit/run.sh $(TESTS)

# The daemon and the device plugins under ASan + UBSan + LeakSanitizer: the kubelet
# stand-in (malformed protobuf, vanishing clients, 1 000 concurrent Allocates, kubelet
# restarts) and the daemon tests (garbage policies, reloads) must leave no leak report.
ASAN_BIN := build/asan/mdevd/mdevd
# LeakSanitizer (compiler-rt 14) can take a glibc 2.36 dynamic-TLS block for an older
# layout and crash scanning it ("Tracer caught signal 11", google/sanitizers#1322); whether
# it does depends on addresses (the environment's size moves them), so it comes and goes
# with unrelated changes once several dlopen()ed libraries (gRPC, libmicrohttpd) have TLS.
# Dynamic TLS is not scanned; heap, stacks and static TLS still are.
LSAN_DTLS := :intercept_tls_get_addr=0
check-leaks:
	$(MAKE) BUILD=build/asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=all" CFLAGS="-O1 -g" $(ASAN_BIN)
	ASAN_OPTIONS=detect_leaks=1$(LSAN_DTLS) tests/kubelet/run.sh $(ASAN_BIN)
	ASAN_OPTIONS=detect_leaks=1$(LSAN_DTLS) MDEVD=$(ASAN_BIN) tests/daemon/run.sh

check-cli: mdevd/mdevd
	@tests/cli/run.sh

# `mdevd hostdev` against golden XML, and the XML against libvirt's RelaxNG schema.
check-hostdev: mdevd/mdevd
	@tests/hostdev/run.sh

# deploy/ against the binary: the manifests' wiring and policies, the unit (verify,
# exposure), the Containerfile's runtime-package step; ends "N passed, N failed".
check-deploy: mdevd/mdevd
	@tests/deploy/run.sh

# The Kubernetes image: deploy/kubernetes/Containerfile built with podman (base images made
# with mmdebstrap from the Debian mirror, no registry) and run: the CLI against golden
# files, the kubelet stand-in against dp-serve in a container, the image's own command.
# Root; cold ~3.5 min, warm ~15 s. Builds its own binary inside the image.
check-image:
	@tests/deploy/image.sh

# `mdevd run` on fixture trees: readiness, reload, bad policies, sd_notify, shutdown.
check-daemon: mdevd/mdevd
	@tests/daemon/run.sh

# mdevd against libvirt's test driver (in-process): domains in use / reserved, the libvirt
# backend's error path, types --source libvirt; ends "N passed, N failed".
check-libvirt: mdevd/mdevd
	@tests/libvirt/run.sh

# The guest suite holds 24 kill -9 rounds (about 4 minutes under TCG): a VM deadline for
# hangs, not for speed.
check-vm: mdevd/mdevd
	@MDEVD_VM_TIMEOUT=$${MDEVD_VM_TIMEOUT:-1800} tests/vm/run.sh tests/vm/guest-tests.sh
	@tests/vm/run.sh tests/vm/guest-daemon.sh

# vfio-pci binding on a real kernel: three boots (tests/vm/guest-vfio.sh). The first has
# more devices (a second edu, a spare e1000e, a virtio disk the test mounts, a boot VGA)
# behind the emulated IOMMU and leaves what `apply --persist` wrote in a share (tag
# "persist") that survives it; the second boots the same machine again with e1000e and
# vfio-pci left to udev's coldplug, as a real boot loads them; the third has no IOMMU, for
# doctor's failures.
VFIO_VM_PERSIST := $(CURDIR)/build/vm/vfio-persist
VFIO_VM_DEVICES := -device edu,addr=0x10 -device e1000e,netdev=n1,addr=0x11,romfile= \
	-netdev user,id=n1,restrict=on -drive file=build/vm/vfio-disk.img,if=none,format=raw,id=vd0 \
	-device virtio-blk-pci,drive=vd0,addr=0x12 -device VGA,addr=0x13,romfile= \
	-virtfs local,path=$(VFIO_VM_PERSIST),mount_tag=persist,security_model=none,multidevs=remap
check-vm-vfio: mdevd/mdevd
	@mkdir -p build/vm && rm -f build/vm/vfio-disk.img && truncate -s 64M build/vm/vfio-disk.img
	@rm -rf $(VFIO_VM_PERSIST) && mkdir -p $(VFIO_VM_PERSIST) && chmod 777 $(VFIO_VM_PERSIST)
	@MDEVD_VM_VFIO_IDS= MDEVD_VM_QEMU_ARGS="$(VFIO_VM_DEVICES)" \
		tests/vm/run.sh tests/vm/guest-vfio.sh iommu
	@MDEVD_VM_VFIO_IDS= MDEVD_VM_QEMU_ARGS="$(VFIO_VM_DEVICES)" \
		MDEVD_VM_CMDLINE="mdevd_vm.noload=e1000e,vfio-pci" \
		tests/vm/run.sh tests/vm/guest-vfio.sh second-boot
	@MDEVD_VM_VFIO_IDS= MDEVD_VM_NO_IOMMU=1 tests/vm/run.sh tests/vm/guest-vfio.sh noiommu

# The real kubelet (standalone, static pods), containerd v2 and runc in the real-kernel guest
# with mdevd serving mtty mdevs and the edu function (tests/k8s/guest.sh: the binaries from
# tests/k8s/build.sh, cached; the pause and busybox images from tests/k8s/images/build.sh).
check-vm-kubelet: mdevd/mdevd
	@tests/k8s/guest.sh kubelet

# The OpenShift guide's check end to end in the guest, all on its loopback: etcd and
# kube-apiserver (tests/k8s/cluster-lib.sh, as check-apiserver), the real kubelet registered
# with them, containerd, and mdevd following the HyperConverged CR and the Node's labels;
# `kubectl describe node` is the proof (tests/vm/guest-cluster.sh).
check-vm-cluster: mdevd/mdevd
	@tests/k8s/guest.sh cluster

# A real libvirtd in the real-kernel guest: reservations, the libvirt backend, mdevctl.
check-vm-libvirt: mdevd/mdevd
	@tests/vm/run.sh tests/vm/guest-libvirt.sh

check: deps
	$(MAKE) all
	$(MAKE) format-check
	$(MAKE) check-unit
	$(MAKE) check-asan
	$(MAKE) check-cli
	$(MAKE) check-kubelet
	$(MAKE) check-devicemanager
	$(MAKE) check-apiserver
	$(MAKE) check-leaks
	$(MAKE) check-daemon
	$(MAKE) check-deploy
	$(MAKE) check-image
	$(MAKE) check-hostdev
	$(MAKE) check-libvirt
	$(MAKE) check-vm
	$(MAKE) check-vm-libvirt
	$(MAKE) check-vm-kubelet
	$(MAKE) check-vm-cluster
	$(MAKE) check-vm-vfio

demo: deps
	$(MAKE) all
	@tests/vm/run.sh tests/vm/demo.sh

vm-prepare:
	@tests/vm/prepare.sh

# The same inventory comparison, inside the real-kernel guest against live sysfs.
bench-vm: mdevd/mdevd
	@tests/vm/run.sh tests/vm/guest-bench.sh

# build/vm is the kernel/module download cache; plain `clean` keeps it.
clean-vm:
	rm -rf build/vm

bench: deps
	$(MAKE) all
	@tests/bench/run.sh
	@tests/bench/guest.sh
	@tests/bench/dp-bench.sh --doc
	@tests/bench/metrics-bench.sh --doc
	@tests/bench/kubelet-bench.sh --doc

# Coverage-guided fuzzing of every parser (libFuzzer + ASan + UBSan; clang and
# libclang-rt-14-dev): the policy, kernel uevents, sysfs attributes, NVIDIA's
# creatable_vgpu_types tables, libvirt's domain and node-device XML, device-plugin requests,
# the Kubernetes API client's kubeconfig, list and watch JSON (tests/fuzz/fuzz_*.c,
# docs/fuzzing.md). The library is rebuilt with clang under $(FUZZ_DIR)/obj; the harnesses
# stay in tests/fuzz and out of the product build. tests/fuzz/run.sh runs each target in turn for FUZZ_SECONDS
# (or FUZZ_RUNS executions when set), corpora in build/fuzz/<target>/corpus, seeded by
# tests/fuzz/make-seeds.py. Not part of `check`.
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
FUZZ_TARGETS := policy uevent sysfs nvidia_vgpu libvirt_xml deviceplugin kubeapi
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/bin/fuzz_%)
fuzz: deps
	@command -v clang >/dev/null && dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || \
		apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
	$(MAKE) fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) tests/fuzz/run.sh $(FUZZ_TARGETS)

fuzz-build:
	$(MAKE) BUILD=$(FUZZ_DIR)/obj CC=clang CFLAGS="-O1 -g" \
		SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZ_DIR)/obj/libmdevd.a
	$(MAKE) $(FUZZ_BINS)

$(FUZZ_DIR)/bin/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_attr.h $(FUZZ_DIR)/obj/libmdevd.a
	@mkdir -p $(dir $@)
	clang -std=gnu11 -O1 -g $(WARN) -fsanitize=fuzzer $(FUZZ_SAN) -D_GNU_SOURCE -Iinclude \
		-iquote mdevd -iquote policy -I$(FUZZ_DIR)/obj/gen $(PKG_CFLAGS) -o $@ $< \
		$(FUZZ_DIR)/obj/libmdevd.a $(LDLIBS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@out=$$(clang-format --dry-run $$(git ls-files '*.c' '*.h') 2>&1); \
	if [ -n "$$out" ]; then echo "$$out" | head -40; \
		echo "format-check: run 'make format'"; exit 1; fi; echo "format-check: clean"

install: mdevd/mdevd
	install -D -m 0755 mdevd/mdevd $(DESTDIR)$(PREFIX)/bin/mdevd
	install -D -m 0644 docs/mdevd.8 $(DESTDIR)$(PREFIX)/share/man/man8/mdevd.8
	install -D -m 0644 docs/mdevd-policy.5 $(DESTDIR)$(PREFIX)/share/man/man5/mdevd-policy.5

clean:
	rm -rf build/release build/asan mdevd/mdevd

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d)
