#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write the seed inputs of the fuzz targets (tests/fuzz/fuzz_*.c) under OUTDIR/<target>/.

  tests/fuzz/make-seeds.py build/fuzz/seeds

uevent        kernel messages laid out as lib/kobject_uevent.c sends them (Linux 6.1):
              mdev create/remove with the sample driver mtty and on an NVIDIA VF, parent
              (un)registration, PCI add/remove/bind/unbind with the variables pci_uevent()
              adds, VFIO group and vfio-dev nodes, a quiet subsystem, udev's re-broadcast;
              and bind/add/unbind of each PCI function of the machine that runs this, with
              the variables its kernel prints in /sys/bus/pci/devices/*/uevent
sysfs         every attribute file of the fixture trees tests/fixtures/*/ that mdevd reads
              (available_instances, numa_node, device_api, name, description, vendor,
              device), as the kernel prints them (with the newline), and the names mdevd
              parses (bus/mdev/devices entries, class/mdev_bus link targets)
nvidia_vgpu   every nvidia/creatable_vgpu_types file of the fixture trees (l40s, h200, mixed:
              full lists, lists a sibling's type narrowed, the header alone, the headerless
              format, an empty file), and the other formats and the garbage the unit test
              tests/unit/test_nvidia_vgpu.c parses (CRLF, blanks, no colon, 0, a sign, too
              big, a duplicate, a NUL byte, a name of 256 bytes), a catalogue file line
libvirt_xml   each <domain> and <device> of tests/libvirt/node.xml (libvirt's test driver
              node) as its own document, node-device XML as libvirt 9 prints it for PCI,
              css and virtual parents and for an mdev, and the <hostdev> golden files of
              tests/hostdev/ inside a <domain>; entity attacks (refused: no DOCTYPE)
deviceplugin  records [op][len lo][len hi][message] (fuzz_deviceplugin.c) holding
              AllocateRequest / PreferredAllocationRequest / PreStartContainerRequest /
              Empty messages encoded as kubelet sends them (protobuf wire format of
              mdevd/kubernetes/deviceplugin.proto), alone and in sequences with pool changes
kubeapi       [op byte][text] (fuzz_kubeapi.c): kubeconfigs as tests/k8s/apiserver.sh and
              tests/unit/test_kubeapi.c write them (client certificates as files and as
              data, token and tokenFile, JSON, kind's admin style, in-cluster style with the
              service account's files, exec and broken ones), base64, watch event lines
              (ADDED / MODIFIED / DELETED / BOOKMARK / ERROR 410 Status), list replies of
              KubeVirt and HyperConverged CRs and of Nodes, a Node with labels and
              annotations, a Status error reply
policy        not written here: `make fuzz` reads tests/fixtures/policies/ directly
"""
import hashlib
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write(outdir, target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- uevent ---------------------------------------------------------------------------


def uevent(action, devpath, seqnum, **env):
    """One kernel message: "<action>@<devpath>\\0" then ACTION, DEVPATH, SUBSYSTEM, the
    subsystem's own variables, SEQNUM, each "KEY=value\\0" (kobject_uevent_env order)."""
    pairs = [("ACTION", action), ("DEVPATH", devpath)]
    pairs += list(env.items())
    pairs.append(("SEQNUM", str(seqnum)))
    return (f"{action}@{devpath}\0" + "".join(f"{k}={v}\0" for k, v in pairs)).encode()


def pci_env(bdf, driver, vendor, device, subvendor, subdevice, cls):
    env = {"SUBSYSTEM": "pci"}
    if driver:
        env["DRIVER"] = driver
    env.update(
        {
            "PCI_CLASS": f"{cls:X}",
            "PCI_ID": f"{vendor:04X}:{device:04X}",
            "PCI_SUBSYS_ID": f"{subvendor:04X}:{subdevice:04X}",
            "PCI_SLOT_NAME": bdf,
            "MODALIAS": f"pci:v{vendor:08X}d{device:08X}sv{subvendor:08X}sd{subdevice:08X}"
            f"bc{cls >> 16:02X}sc{(cls >> 8) & 0xff:02X}i{cls & 0xff:02X}",
        }
    )
    return env


def uevent_seeds(outdir):
    u = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
    mtty = "/devices/virtual/mtty/mtty"
    vf = "/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.4"
    nv = "6c1a7b2e-4a1e-4b8f-9d2c-1f0e3d2c1b0a"
    msgs = [
        # mdev create on mtty (mdev_device_create(): add, group, vfio-dev, bind)
        uevent("add", f"{mtty}/{u}", 2301, SUBSYSTEM="mdev", MDEV_TYPE="mtty-2"),
        uevent("add", "/devices/virtual/vfio/6", 2302, SUBSYSTEM="vfio", DEVNAME="vfio/6",
               DEVMODE="0600"),
        uevent("add", f"{mtty}/{u}/vfio-dev/vfio1", 2303, SUBSYSTEM="vfio-dev", MAJOR="511",
               MINOR="1", DEVNAME="vfio/devices/vfio1"),
        uevent("bind", f"{mtty}/{u}", 2304, SUBSYSTEM="mdev", DRIVER="mtty",
               MDEV_TYPE="mtty-2"),
        # and its removal
        uevent("remove", f"{mtty}/{u}/vfio-dev/vfio1", 2305, SUBSYSTEM="vfio-dev",
               MAJOR="511", MINOR="1", DEVNAME="vfio/devices/vfio1"),
        uevent("remove", "/devices/virtual/vfio/6", 2306, SUBSYSTEM="vfio", DEVNAME="vfio/6"),
        uevent("unbind", f"{mtty}/{u}", 2307, SUBSYSTEM="mdev", MDEV_TYPE="mtty-2"),
        uevent("remove", f"{mtty}/{u}", 2308, SUBSYSTEM="mdev", MDEV_TYPE="mtty-2"),
        # an NVIDIA vGPU on a VF (vfio_mdev / nvidia-vgpu-vfio)
        uevent("add", f"{vf}/{nv}", 9001, SUBSYSTEM="mdev", MDEV_TYPE="nvidia-222"),
        uevent("bind", f"{vf}/{nv}", 9002, SUBSYSTEM="mdev", DRIVER="nvidia-vgpu-vfio",
               MDEV_TYPE="nvidia-222"),
        uevent("remove", f"{vf}/{nv}", 9003, SUBSYSTEM="mdev", MDEV_TYPE="nvidia-222"),
        # parents: mdev_register_parent() / mdev_unregister_parent(), old mdev_bus class
        uevent("change", mtty, 2200, SUBSYSTEM="mtty", MDEV_STATE="registered"),
        uevent("change", mtty, 2400, SUBSYSTEM="mtty", MDEV_STATE="unregistered"),
        uevent("change", vf, 8999, SUBSYSTEM="pci", MDEV_STATE="registered",
               **{k: v for k, v in pci_env("0000:3b:00.4", "nvidia", 0x10DE, 0x1EB8, 0x10DE,
                                           0x12A2, 0x030200).items() if k != "SUBSYSTEM"}),
        uevent("add", "/devices/virtual/mdev_bus/mtty", 17, SUBSYSTEM="mdev_bus"),
        uevent("add", mtty, 2199, SUBSYSTEM="mtty"),
        # PCI: an SR-IOV VF appearing, vfio-pci binding (driver_override + drivers_probe)
        uevent("add", "/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.5", 8000,
               **pci_env("0000:3b:00.5", None, 0x10DE, 0x1EB8, 0x10DE, 0x12A2, 0x030200)),
        uevent("unbind", "/devices/pci0000:00/0000:00:03.0", 3001,
               **pci_env("0000:00:03.0", None, 0x1234, 0x11E8, 0x1AF4, 0x1100, 0x00FF00)),
        uevent("bind", "/devices/pci0000:00/0000:00:03.0", 3002,
               **pci_env("0000:00:03.0", "vfio-pci", 0x1234, 0x11E8, 0x1AF4, 0x1100, 0x00FF00)),
        uevent("add", "/devices/virtual/vfio/12", 3003, SUBSYSTEM="vfio", DEVNAME="vfio/12"),
        uevent("remove", "/devices/pci0000:00/0000:00:03.0", 3004,
               **pci_env("0000:00:03.0", None, 0x1234, 0x11E8, 0x1AF4, 0x1100, 0x00FF00)),
        # what mdevd ignores: a container's veth, a module, a kobject without subsystem
        uevent("add", "/devices/virtual/net/veth1a2b", 501, SUBSYSTEM="net",
               INTERFACE="veth1a2b", IFINDEX="42"),
        uevent("add", "/module/mtty", 2198, SUBSYSTEM="module"),
        uevent("add", "/kernel/slab/x", 3, ),
        # udev's re-broadcast on group 2 (binary header): rejected
        b"libudev\0\xfe\xed\xca\xfe\x28\x00\x00\x00ACTION=add\0DEVPATH=/devices/x\0",
    ]
    # The PCI functions of the machine running this: the variables the kernel adds to their
    # events are what it prints in their uevent file (dev_uevent(), pci_uevent()).
    pci = "/sys/bus/pci/devices"
    for bdf in sorted(os.listdir(pci)) if os.path.isdir(pci) else []:
        try:
            with open(os.path.join(pci, bdf, "uevent")) as f:
                env = dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)
            devpath = os.path.realpath(os.path.join(pci, bdf))[len("/sys"):]
        except OSError:
            continue
        env = {"SUBSYSTEM": "pci", **env}
        msgs.append(uevent("bind", devpath, 7000, **env))
        env.pop("DRIVER", None)
        msgs.append(uevent("add", devpath, 7001, **env))
        msgs.append(uevent("unbind", devpath, 7002, **env))
    for m in msgs:
        write(outdir, "uevent", m)


# --- sysfs ----------------------------------------------------------------------------

ATTRS = {"available_instances", "numa_node", "device_api", "name", "description", "vendor",
         "device"}


def fixture_dirs():
    """(tree top, directory, its subdirectories, its files) of every fixture tree."""
    fixtures = os.path.join(ROOT, "tests", "fixtures")
    for tree in sorted(os.listdir(fixtures)):
        top = os.path.join(fixtures, tree)
        if not os.path.isdir(top) or tree == "policies":
            continue
        for d, dirs, files in os.walk(top):
            yield top, d, dirs, files


def sysfs_seeds(outdir):
    for top, d, dirs, files in fixture_dirs():
        for f in files:
            p = os.path.join(d, f)
            if f in ATTRS and not os.path.islink(p):
                with open(p, "rb") as fh:
                    write(outdir, "sysfs", fh.read()[:4095])
        rel = os.path.relpath(d, top)
        if rel in ("bus/mdev/devices", "class/mdev_bus"):
            for name in dirs + files:
                write(outdir, "sysfs", name)
                link = os.path.join(d, name)
                if os.path.islink(link):
                    write(outdir, "sysfs", os.path.basename(os.readlink(link)))
    # What the kernel prints for the cases the fixtures lack: no NUMA node, a full count.
    for v in ("-1\n", "0\n", "4294967295\n", "vfio-ccw\n", "vfio-ap\n"):
        write(outdir, "sysfs", v)


# --- nvidia_vgpu ----------------------------------------------------------------------

NVIDIA_VGPU_EXTRA = [
    # tests/unit/test_nvidia_vgpu.c: both formats, blanks and CRLF, the header alone, garbage
    "ID    : vGPU Name\n1145  : NVIDIA L40S-1B\n1153  : NVIDIA L40S-12Q\n2164  : NVIDIA L40S-3B\n",
    "\n  1414\t:   NVIDIA H200X-1-18C  \r\n\n1428 NVIDIA H200X-141C",
    "ID    : vGPU Name\r\n1153  : NVIDIA L40S-12Q\r\n",
    "ID    : vGPU Name\n",
    "ID : vGPU Name\nnot a line\n",
    "1153 : NVIDIA L40S-12Q\nID : vGPU Name\n",
    "1153 :\n",
    "1153\n",
    "0 : none\n",
    "-5 : minus\n",
    "4294967295 : NVIDIA max\n4294967296 : too big\n",
    "00001153 : NVIDIA L40S-12Q\n",
    "1153x : NVIDIA L40S-12Q\n",
    "1153 : a\n1153 : b\n",
    "1153:NVIDIA L40S-12Q\n1154 :: NVIDIA L40S-24Q\n",
    "1 : a\n\0002 : b\n",
    "1 : " + "x" * 256 + "\n",
    "1 : " + "x" * 255 + "\n",
    # what catalogue_load() hands the parser: a catalogue line after "<vendor>:<device> "
    "1153 : NVIDIA L40S-12Q\n",
]


def nvidia_vgpu_seeds(outdir):
    for _, d, _, files in fixture_dirs():
        if "creatable_vgpu_types" in files:
            with open(os.path.join(d, "creatable_vgpu_types"), "rb") as fh:
                write(outdir, "nvidia_vgpu", fh.read()[:4095])
    for s in NVIDIA_VGPU_EXTRA:
        write(outdir, "nvidia_vgpu", s)


# --- libvirt XML ----------------------------------------------------------------------

NODEDEV_EXTRA = [
    # A virtual parent as libvirt 9 lists it (mtty_mtty).
    """<device>
  <name>mtty_mtty</name>
  <path>/sys/devices/virtual/mtty/mtty</path>
  <parent>computer</parent>
  <capability type='mdev_types'>
    <type id='mtty-1'>
      <name>Single port serial</name>
      <deviceAPI>vfio-pci</deviceAPI>
      <availableInstances>24</availableInstances>
    </type>
    <type id='mtty-2'>
      <name>Dual port serial</name>
      <deviceAPI>vfio-pci</deviceAPI>
      <availableInstances>12</availableInstances>
    </type>
  </capability>
</device>
""",
    # An s390 subchannel parent (vfio-ccw): mdev_types nested in the css capability.
    """<device>
  <name>css_0_0_0052</name>
  <path>/sys/devices/css0/0.0.0052</path>
  <parent>computer</parent>
  <driver><name>vfio_ccw</name></driver>
  <capability type='css'>
    <cssid>0x0</cssid><ssid>0x0</ssid><devno>0x0052</devno>
    <capability type='mdev_types'>
      <type id='vfio_ccw-io'>
        <name>I/O subchannel (Non-QDIO)</name>
        <deviceAPI>vfio-ccw</deviceAPI>
        <availableInstances>1</availableInstances>
      </type>
    </capability>
  </capability>
</device>
""",
    # A defined (mdevctl) mdev, as virNodeDeviceGetXMLDesc prints it.
    """<device>
  <name>mdev_83b8f4f2_509f_382f_3c1e_e6bfe0fa1001_mtty</name>
  <path>/sys/devices/virtual/mtty/mtty/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001</path>
  <parent>mtty_mtty</parent>
  <driver><name>mtty</name></driver>
  <capability type='mdev'>
    <type id='mtty-2'/>
    <uuid>83b8f4f2-509f-382f-3c1e-e6bfe0fa1001</uuid>
    <parent_addr>mtty</parent_addr>
    <iommuGroup number='6'/>
  </capability>
</device>
""",
]


def libvirt_seeds(outdir):
    with open(os.path.join(ROOT, "tests", "libvirt", "node.xml")) as f:
        node = f.read()
    node = re.sub(r"<!--.*?-->", "", node, flags=re.S)
    for m in re.finditer(r"<(domain|device)\b.*?</\1>", node, flags=re.S):
        write(outdir, "libvirt_xml", m.group(0) + "\n")
    for x in NODEDEV_EXTRA:
        write(outdir, "libvirt_xml", x)
    # The XML mdevd hands libvirt to create an mdev (docs/libvirt.md).
    write(outdir, "libvirt_xml",
          "<device>\n  <parent>pci_0000_65_00_0</parent>\n  <capability type='mdev'>\n"
          "    <type id='nvidia-222'/>\n    <uuid>4a0e8c3b-0000-4000-8000-000000000001</uuid>\n"
          "  </capability>\n</device>\n")
    # What libvirt never writes and xml_each() refuses: a DOCTYPE declaring entities (the
    # quadratic blowup and billion laughs), an external entity.
    write(outdir, "libvirt_xml",
          "<!DOCTYPE device [<!ENTITY a \"" + "A" * 5000 + "\">]>\n<device><path>"
          + "&a;" * 200 + "</path></device>\n")
    lol = "".join(f"<!ENTITY l{i} \"" + f"&l{i - 1};" * 10 + "\">" for i in range(1, 10))
    write(outdir, "libvirt_xml",
          f"<!DOCTYPE domain [<!ENTITY l0 \"lol\">{lol}]><domain><devices>"
          "<hostdev type='mdev'><source><address uuid='&l9;'/></source></hostdev>"
          "</devices></domain>\n")
    write(outdir, "libvirt_xml",
          "<!DOCTYPE device [<!ENTITY x SYSTEM \"file:///etc/machine-id\">]>"
          "<device><path>&x;</path></device>\n")
    for sub in ("golden", "negative"):
        d = os.path.join(ROOT, "tests", "hostdev", sub)
        for f in sorted(os.listdir(d)):
            if not f.endswith(".xml"):
                continue
            with open(os.path.join(d, f)) as fh:
                x = fh.read()
            if not x.lstrip().startswith("<devices"):
                x = f"<devices>\n{x}</devices>\n"
            write(outdir, "libvirt_xml",
                  f"<domain type='kvm'>\n  <name>vm-{f[:-4]}</name>\n{x}</domain>\n")


# --- device plugin --------------------------------------------------------------------


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, v):
    if v < 0:
        v += 1 << 64  # int32 negatives are sign-extended to 10 bytes
    return varint(num << 3) + varint(v)


def allocate_request(*containers):
    return b"".join(
        field_bytes(1, b"".join(field_bytes(1, i) for i in ids)) for ids in containers)


def preferred_request(*containers):
    out = b""
    for avail, must, size in containers:
        c = b"".join(field_bytes(1, i) for i in avail)
        c += b"".join(field_bytes(2, i) for i in must)
        if size:
            c += field_varint(3, size)
        out += field_bytes(1, c)
    return out


def prestart_request(ids):
    return b"".join(field_bytes(1, i) for i in ids)


OP_ALLOCATE, OP_PREFERRED, OP_OPTIONS, OP_PRESTART, OP_LIST = 0, 1, 2, 3, 4
OP_POOL_SMALL, OP_POOL_FULL, OP_POOL_NONE, OP_PCI, OP_UNARY_LIST = 5, 6, 7, 8, 16


def record(op, msg=b""):
    return bytes([op]) + struct.pack("<H", len(msg)) + msg


A1 = "a1a1a1a1-0000-4000-8000-000000000001"
A2 = "a2a2a2a2-0000-4000-8000-000000000002"
B1 = "b1b1b1b1-0000-4000-8000-000000000001"
B2 = "b2b2b2b2-0000-4000-8000-000000000002"
B3 = "b3b3b3b3-0000-4000-8000-000000000003"
C1 = "c1c1c1c1-0000-4000-8000-000000000001"
D1 = "d1d1d1d1-0000-4000-8000-000000000001"
MDEVS = [A1, A2, B1, B2, B3, C1, D1]
PCIS = ["0000:00:03.0", "0000:00:04.0", "0000:00:04.1", "0000:65:00.0"]


def deviceplugin_seeds(outdir):
    seeds = [
        # kubelet's first calls, then one vGPU
        record(OP_OPTIONS) + record(OP_LIST) + record(OP_ALLOCATE, allocate_request([A1])),
        record(OP_ALLOCATE, allocate_request([A2, B2])),
        record(OP_ALLOCATE, allocate_request([A1], [B1, B3], [])),
        record(OP_PCI | OP_ALLOCATE, allocate_request(["0000:00:04.0", "0000:00:04.1"])),
        record(OP_PCI | OP_ALLOCATE, allocate_request(["0000:65:00.0"], ["0000:00:03.0"])),
        # refused: unknown, unhealthy (no IOMMU group), twice in one container
        record(OP_ALLOCATE, allocate_request(["ffffffff-0000-4000-8000-000000000000"])),
        record(OP_ALLOCATE, allocate_request([D1])),
        record(OP_ALLOCATE, allocate_request([A1, A1])),
        # GetPreferredAllocation as kubelet asks it: all available, some must-include
        record(OP_PREFERRED, preferred_request((MDEVS, [], 2))),
        record(OP_PREFERRED, preferred_request((MDEVS, [B1], 3))),
        record(OP_PREFERRED, preferred_request((MDEVS[::-1], [A1, C1], 4), (MDEVS, [], 1))),
        record(OP_PREFERRED, preferred_request((MDEVS + ["zzz", "aaa"], [B1], 6))),
        record(OP_PCI | OP_PREFERRED, preferred_request((PCIS, [], 2))),
        record(OP_PREFERRED, preferred_request((MDEVS, [A1, B1, C1], 2))),
        record(OP_PREFERRED, preferred_request((MDEVS, [], -1))),
        # allocated, then the pool shrinks: kept unhealthy; unserved; stopping
        record(OP_ALLOCATE, allocate_request([B2])) + record(OP_POOL_SMALL) + record(OP_LIST)
        + record(OP_ALLOCATE, allocate_request([B2])) + record(OP_ALLOCATE,
                                                               allocate_request([B1]))
        + record(OP_POOL_FULL) + record(OP_LIST),
        record(OP_PCI | OP_ALLOCATE, allocate_request(["0000:00:03.0"]))
        + record(OP_PCI | OP_POOL_SMALL) + record(OP_PCI | OP_LIST)
        + record(OP_PCI | OP_PREFERRED, preferred_request((PCIS, ["0000:00:03.0"], 2)))
        + record(OP_PCI | OP_POOL_NONE) + record(OP_PCI | OP_LIST),
        # the limit of deviceplugin.h: more than 4096 IDs in one container are refused (the
        # GetPreferredAllocation leak test_too_many_ids covers); not 4096 itself: quadratic checks
        # make it slow to mutate
        record(OP_ALLOCATE, allocate_request([f"{i:x}" for i in range(4097)])),
        record(OP_PREFERRED, preferred_request(([f"{i:x}" for i in range(4097)], [], 1))),
        record(OP_PRESTART, prestart_request([A1])),
        record(OP_UNARY_LIST),
        # malformed: a length past the end, a wrong wire type
        record(OP_ALLOCATE, b"\x0a\x05\xff"),
        record(OP_PREFERRED, b"\x0b\x01"),
    ]
    for s in seeds:
        if s:
            write(outdir, "deviceplugin", s)


# --- kubeapi --------------------------------------------------------------------------

KUBE_CONFIG, KUBE_BASE64, KUBE_EVENT, KUBE_LIST, KUBE_OBJECT = range(5)
KUBE_KIND = 8  # kind and apiVersion given (a kubeconfig: its directory)
PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2xpZW50\n-----END CERTIFICATE-----\n"


def b64(text):
    import base64

    return base64.b64encode(text.encode()).decode()


def kubeconfig(user_lines, cluster="{server: \"https://127.0.0.1:6443\", "
               "certificate-authority: /tmp/pki/ca.crt}"):
    """A kubeconfig as tests/k8s/apiserver.sh writes it."""
    return ("apiVersion: v1\nkind: Config\nclusters:\n- name: test\n"
            f"  cluster: {cluster}\ncontexts:\n- name: test\n"
            "  context: {cluster: test, user: u}\ncurrent-context: test\nusers:\n"
            "- name: u\n  user:\n" + "".join(f"    {line}\n" for line in user_lines))


KUBEVIRT = {
    "apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
    "metadata": {"name": "kubevirt", "namespace": "kubevirt", "resourceVersion": "4242",
                 "generation": 3, "uid": "6a1c3a4e-2f7d-4a59-9a51-0c1f0f4f7b11",
                 "annotations": {"mdevd/policy": "{\"removeUnowned\": false}"}},
    "spec": {"configuration": {
        "developerConfiguration": {"featureGates": ["HostDevices"]},
        "permittedHostDevices": {"mediatedDevices": [
            {"mdevNameSelector": "Dual port serial", "resourceName": "example.com/MTTY_DUAL",
             "externalResourceProvider": True},
            {"mdevNameSelector": "Single port serial",
             "resourceName": "example.com/MTTY_SINGLE"}]},
        "mediatedDevicesConfiguration": {
            "mediatedDeviceTypes": ["mtty-2"],
            "nodeMediatedDeviceTypes": [{"nodeSelector": {"mdevd-test/pool": "single"},
                                         "mediatedDeviceTypes": ["mtty-1"]}]}}},
    "status": {"phase": "Deployed"},
}
HYPERCONVERGED = {
    "apiVersion": "hco.kubevirt.io/v1beta1", "kind": "HyperConverged",
    "metadata": {"name": "kubevirt-hyperconverged", "namespace": "openshift-cnv",
                 "resourceVersion": "777", "uid": "0b5e7c2a-9d1e-4c3b-8f6a-2e4d5c6b7a80"},
    "spec": {"permittedHostDevices": {
        "mediatedDevices": [{"mdevNameSelector": "Dual port serial",
                             "resourceName": "example.com/MTTY_DUAL",
                             "externalResourceProvider": True}],
        "pciDeviceSelector": [{"pciVendorSelector": "10DE:2236",
                               "resourceName": "nvidia.com/GA102GL_A10"}]},
        "mediatedDevicesConfiguration": {"mediatedDeviceTypes": ["nvidia-222"]}},
}
NODE = {
    "apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "test-node", "resourceVersion": "31", "uid": "e3b0c442-98fc-1c14",
                 "labels": {"kubernetes.io/hostname": "test-node", "mdevd-test/pool": "dual",
                            "kubernetes.io/arch": "amd64", "empty": ""},
                 "annotations": {"mdevd/policy": "mediatedDevicesConfiguration: {}",
                                 "node.alpha.kubernetes.io/ttl": "0"}},
    "spec": {"podCIDR": "10.244.0.0/24"},
    "status": {"allocatable": {"example.com/MTTY_DUAL": "12"}},
}


def kubeapi_seeds(outdir):
    import json

    def put(op, text):
        write(outdir, "kubeapi", bytes([op]) + (text.encode() if isinstance(text, str) else text))

    configs = [
        kubeconfig(["client-certificate: /tmp/pki/admin.crt", "client-key: /tmp/pki/admin.key"]),
        kubeconfig(["client-certificate: mdevd.crt", "client-key: mdevd.key"]),
        kubeconfig(["tokenFile: /tmp/work/token"]),
        kubeconfig(["token: eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.e30.c2ln"]),
        kubeconfig([f"client-certificate-data: {b64(PEM)}",
                    f"client-key-data: {b64('-----BEGIN EC PRIVATE KEY-----')}"],
                   "\n    server: https://127.0.0.1:40043/\n"
                   f"    certificate-authority-data: {b64(PEM)}"),
        # In-cluster style: the service account's files, named in a kubeconfig.
        kubeconfig(["tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token"],
                   "{server: \"https://[fd00::1]:443\", certificate-authority: "
                   "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt}"),
        kubeconfig(["exec: {command: aws, args: [eks, get-token]}"]),
        kubeconfig(["client-certificate: a.crt"]),
        kubeconfig(["token: x"], "{server: 127.0.0.1, insecure-skip-tls-verify: true}"),
        kubeconfig(["token: x"], "{server: 'https://h', certificate-authority-data: '!!'}"),
        kubeconfig(["token: x"], "{server: 'https:///'}"),  # no host (the target found it)
        "clusters: []\n",
        "current-context: x\n",
        "a: [\n",
        "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
        "clusters: [{name: c, cluster: {server: &s 'http://h:8080', x: *s}}]\n",
        json.dumps({"current-context": "a",
                    "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
                    "clusters": [{"name": "c", "cluster": {"server": "https://h:1",
                                                           "insecure-skip-tls-verify": True}}],
                    "users": [{"name": "u", "user": {"token": "abc"}}]}),
    ]
    for c in configs:
        put(KUBE_CONFIG, c)
        put(KUBE_CONFIG | KUBE_KIND, c)
    for t in ["aGVs\nbG8=", "", "ab=c", "a*b", b64(PEM), b64(PEM)[:-2], "YQ", "YQ==\n", " Y Q = = "]:
        put(KUBE_BASE64, t)

    def ev(type_, obj):
        return json.dumps({"type": type_, "object": obj}, separators=(",", ":"))

    kv_bare = dict(KUBEVIRT)
    del kv_bare["kind"], kv_bare["apiVersion"]
    events = [
        ev("ADDED", KUBEVIRT), ev("ADDED", kv_bare), ev("MODIFIED", HYPERCONVERGED),
        ev("DELETED", {"metadata": {"name": "x", "resourceVersion": "7"}}),
        ev("MODIFIED", NODE),
        ev("BOOKMARK", {"kind": "KubeVirt", "apiVersion": "kubevirt.io/v1", "metadata": {
            "resourceVersion": "1234", "annotations": {"k8s.io/initial-events-end": "true"}}}),
        ev("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": "too old resource version: 5 (9)", "reason": "Expired",
                     "code": 410}),
        ev("ERROR", {"kind": "Status", "code": 500, "message": "etcdserver: request timed out"}),
        ev("RENAMED", {}), ev("ADDED", {"metadata": {}}), "{\"type\":\"ADDED\"}", "{",
    ]
    for e in events:
        put(KUBE_EVENT, e)
        put(KUBE_EVENT | KUBE_KIND, e)

    def lst(kind, items, rv):
        return json.dumps({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": rv},
                           "items": items})

    lists = [
        lst("KubeVirtList", [kv_bare, {"metadata": {"name": "other", "namespace": "mdevd"},
                                       "spec": {}}], "4300"),
        lst("HyperConvergedList", [{k: v for k, v in HYPERCONVERGED.items()
                                    if k not in ("kind", "apiVersion")}], "778"),
        lst("NodeList", [NODE], "32"),
        lst("KubeVirtList", [], "1"),
        json.dumps({"metadata": {"resourceVersion": "1"}, "items": None}),
        json.dumps({"items": []}),
        json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "kubevirts.kubevirt.io is forbidden: User \"mdevd\" cannot list",
                    "reason": "Forbidden", "code": 403}),
        "404 page not found",
    ]
    for item in lists:
        put(KUBE_LIST, item)
        put(KUBE_LIST | KUBE_KIND | 0xe0, item)
    for o in [NODE, KUBEVIRT, HYPERCONVERGED, {"metadata": {}}, {}]:
        put(KUBE_OBJECT, json.dumps(o))
        put(KUBE_OBJECT, json.dumps(o).encode() + b"\0node.alpha.kubernetes.io/ttl")
    put(KUBE_OBJECT, "[")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make-seeds.py OUTDIR")
    outdir = sys.argv[1]
    uevent_seeds(outdir)
    sysfs_seeds(outdir)
    nvidia_vgpu_seeds(outdir)
    libvirt_seeds(outdir)
    deviceplugin_seeds(outdir)
    kubeapi_seeds(outdir)


if __name__ == "__main__":
    main()
