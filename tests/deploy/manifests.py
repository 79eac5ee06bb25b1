# SPDX-License-Identifier: LGPL-2.1-or-later
# The YAML side of tests/deploy/run.sh: reads the files under deploy/ and either prints what
# the shell needs (a container's argv, the ConfigMap's policy, the KubeVirt CR as JSON) or
# checks one promise of the manifests. Run with Debian's /usr/bin/python3 (python3-yaml).
#
#   manifests.py DEPLOY_DIR CHECK [ARGS...]
#
# A check prints nothing and exits 0, or prints one line per broken promise (naming the file
# and the object) and exits 1. Exit 2: the files could not be read at all.
import json
import os
import re
import shlex
import sys

import yaml

errors = []


def err(msg):
    errors.append(msg)


def load(deploy, name):
    path = os.path.join(deploy, "kubernetes", name)
    try:
        with open(path) as f:
            return path, [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        sys.exit(f"{path}: does not parse: {e}".replace("\n", " "))


def find(docs, kind, name=None):
    """The one document of @kind (and metadata.name @name), or None."""
    for d in docs:
        if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
            return d
    return None


def daemonset(deploy):
    path, docs = load(deploy, "daemonset.yaml")
    ds = find(docs, "DaemonSet")
    if ds is None:
        sys.exit(f"{path}: no document of kind DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    ctrs = [c for c in pod.get("containers", []) if c.get("name") == "mdevd"]
    if len(ctrs) != 1:
        sys.exit(f"{path}: DaemonSet {ds['metadata']['name']}: want one container named mdevd, "
                 f"found {len(ctrs)}")
    return path, docs, ds, pod, ctrs[0]


def containerfile(deploy):
    """ENTRYPOINT and CMD of the Containerfile's last stage, exec (JSON) form only."""
    path = os.path.join(deploy, "kubernetes", "Containerfile")
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"(ENTRYPOINT|CMD)\s+(\[.*\])\s*$", line)
            if m:
                out[m.group(1)] = json.loads(m.group(2))
    return path, out


def unit(deploy):
    """deploy/systemd/mdevd.service as {(section, key): [values]}."""
    path = os.path.join(deploy, "systemd", "mdevd.service")
    keys = {}
    section = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            k, _, v = line.partition("=")
            keys.setdefault((section, k.strip()), []).append(v.strip())
    return path, keys


def host_devices(doc):
    """permittedHostDevices of a policy: a bare config, a KubeVirt CR or a HyperConverged CR."""
    if doc.get("kind") == "KubeVirt":
        return doc["spec"]["configuration"].get("permittedHostDevices", {})
    if doc.get("kind") == "HyperConverged":
        return doc["spec"].get("permittedHostDevices", {})
    return doc.get("permittedHostDevices", {})


def policy_text(deploy):
    """The policy the DaemonSet reads: the ConfigMap key its --policy path names."""
    path, docs = load(deploy, "configmap.yaml")
    cms = [d for d in docs if d.get("kind") == "ConfigMap"]
    if len(cms) != 1:
        sys.exit(f"{path}: want one ConfigMap, found {len(cms)}")
    data = cms[0].get("data", {})
    if len(data) != 1:
        sys.exit(f"{path}: ConfigMap {cms[0]['metadata']['name']}: want one data key (the "
                 f"policy), found {sorted(data)}")
    return path, next(iter(data.values()))


def kubevirt_cr(deploy):
    path, docs = load(deploy, "kubevirt-cr.yaml")
    cr = find(docs, "KubeVirt")
    if cr is None:
        sys.exit(f"{path}: no document of kind KubeVirt")
    return path, docs, cr


# --- checks ---------------------------------------------------------------------------------


def check_parse(deploy):
    kdir = os.path.join(deploy, "kubernetes")
    names = sorted(n for n in os.listdir(kdir) if n.endswith((".yaml", ".yml")))
    if not names:
        err(f"{kdir}: no YAML files")
    for n in names:
        path = os.path.join(kdir, n)
        try:
            with open(path) as f:
                docs = list(yaml.safe_load_all(f))
        except yaml.YAMLError as e:
            err(f"{path}: does not parse: {e}".replace("\n", " "))
            continue
        for i, d in enumerate(docs):
            if d is None:
                continue  # an empty document (a trailing ---) is no object
            if not isinstance(d, dict):
                err(f"{path}: document {i}: not a mapping")
                continue
            for k in ("apiVersion", "kind"):
                if not isinstance(d.get(k), str) or not d[k]:
                    err(f"{path}: document {i}: no {k}")
            md = d.get("metadata")
            if not isinstance(md, dict) or not isinstance(md.get("name"), str) or not md["name"]:
                err(f"{path}: document {i} ({d.get('kind')}): no metadata.name")


def check_volumes(deploy):
    path, _, ds, pod, c = daemonset(deploy)
    where = f"{path}: DaemonSet {ds['metadata']['name']}"
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    for name in mounts:
        if name not in vols:
            err(f"{where}: volumeMount {name} names no volume (volumes: {', '.join(vols)})")
    host = {v["hostPath"]["path"]: n for n, v in vols.items() if "hostPath" in v}
    for p in ("/sys", "/dev/vfio", "/var/lib/kubelet/device-plugins"):
        if p not in host:
            err(f"{where}: no hostPath volume for {p}")
        elif host[p] not in mounts:
            err(f"{where}: hostPath volume {host[p]} ({p}) is not mounted by the container")
    # mdevd writes create/remove below the host's /sys; a read-only mount would break it.
    if "/sys" in host and mounts.get(host["/sys"], {}).get("readOnly"):
        err(f"{where}: the /sys volume is mounted read-only; mdevd writes create/remove there")


def check_security(deploy):
    path, _, ds, pod, c = daemonset(deploy)
    where = f"{path}: DaemonSet {ds['metadata']['name']} container {c['name']}"
    sc = c.get("securityContext", {})
    if sc.get("privileged") is True:
        err(f"{where}: securityContext.privileged is true")
    if sc.get("allowPrivilegeEscalation") is not False:
        err(f"{where}: securityContext.allowPrivilegeEscalation is not false")
    caps = sc.get("capabilities", {})
    if caps.get("drop") != ["ALL"]:
        err(f"{where}: capabilities.drop is {caps.get('drop')}, want [ALL]")
    # The pod gets what the systemd unit's bounding set allows, no more (docs/operations.md).
    upath, keys = unit(deploy)
    bset = set()
    for v in keys.get(("Service", "CapabilityBoundingSet"), []):
        bset |= {w.removeprefix("CAP_") for w in v.split()}
    add = set(caps.get("add", []))
    if add != bset:
        err(f"{where}: capabilities.add {sorted(add)} differ from {upath}'s "
            f"CapabilityBoundingSet {sorted(bset)}")


def argv_daemonset(deploy):
    path, _, ds, pod, c = daemonset(deploy)
    cpath, cf = containerfile(deploy)
    # No command: the image's ENTRYPOINT runs, with args in place of its CMD.
    cmd = c.get("command") or cf.get("ENTRYPOINT")
    if not cmd:
        sys.exit(f"{path}: container {c['name']} has no command and {cpath} no ENTRYPOINT")
    return cmd + c.get("args", [])


def argv_containerfile(deploy):
    cpath, cf = containerfile(deploy)
    if "ENTRYPOINT" not in cf or "CMD" not in cf:
        sys.exit(f"{cpath}: want ENTRYPOINT and CMD in exec (JSON) form")
    return cf["ENTRYPOINT"] + cf["CMD"]


def argv_unit(deploy):
    upath, keys = unit(deploy)
    execs = keys.get(("Service", "ExecStart"), [])
    if len(execs) != 1:
        sys.exit(f"{upath}: want one ExecStart, found {len(execs)}")
    words = shlex.split(execs[0].lstrip("-@+!:"))
    # $MDEVD_ARGS (from the optional EnvironmentFile) splits to nothing when unset.
    return [w for w in words if not re.fullmatch(r"\$\{?MDEVD_ARGS\}?", w)]


def section(text, start, end):
    """The part of a help text from the line @start to the line @end."""
    m = re.search(rf"^{re.escape(start)}.*?^{re.escape(end)}", text, re.M | re.S)
    if not m:
        sys.exit(f"mdevd's --help has no section {start!r} .. {end!r}; update {__file__}")
    return m.group(0)


def parse_help(text):
    """{long option: takes an argument} from a help text's option lines."""
    opts = {}
    for m in re.finditer(r"^\s+(?:-\w, )?--([a-z][a-z-]*)( [A-Z]+)?", text, re.M):
        opts[m.group(1)] = bool(m.group(2))
    for m in re.finditer(r"\s--([a-z][a-z-]*)\b", text):  # inline ones: "--version"
        opts.setdefault(m.group(1), False)
    return opts


def check_argv(deploy, source, global_help, run_help):
    """The argv parses the way mdevd's help says: global options, `run`, run's options, each
    with its value where the help shows one, no stray word, run's required options given."""
    argv = {"daemonset": argv_daemonset, "containerfile": argv_containerfile,
            "unit": argv_unit}[source](deploy)
    with open(global_help) as f:
        gtext = f.read()
    with open(run_help) as f:
        rtext = f.read()
    gopts = parse_help(section(gtext, "Global options", "Each command takes"))
    ropts = parse_help(section(rtext, "Options:", "Exit status"))
    usage = re.search(r"^Usage: mdevd run (.*(?:\n\s+\[.*)*)", rtext, re.M).group(1)
    required = re.findall(r"--([a-z-]+)", re.sub(r"\[[^]]*\]", "", usage))
    what = f"{source} argv {argv}"
    if os.path.basename(argv[0]) != "mdevd":
        err(f"{what}: runs {argv[0]}, not mdevd")
    i, seen, cmd = 1, [], None
    table = gopts
    while i < len(argv):
        w = argv[i]
        i += 1
        if w.startswith("--"):
            name, eq, _ = w[2:].partition("=")
            if name not in table:
                err(f"{what}: {w}: not an option of mdevd{' run' if cmd else ''} "
                    f"(its --help lists: {', '.join(sorted(table))})")
                continue
            if table[name] and not eq:
                if i >= len(argv):
                    err(f"{what}: {w} needs a value")
                i += 1
            seen.append(name)
        elif w.startswith("-"):
            err(f"{what}: {w}: use the long options (their names are checked against --help)")
        elif cmd is None:
            cmd = w
            if cmd != "run":
                err(f"{what}: command {cmd}, want run")
            table = ropts
        else:
            err(f"{what}: stray word {w!r}: run takes no arguments, only options")
    if cmd is None:
        err(f"{what}: no command")
    for r in required:
        if r not in seen:
            err(f"{what}: no --{r}, which run requires")


def value_of(argv, opt):
    for i, w in enumerate(argv):
        if w == opt and i + 1 < len(argv):
            return argv[i + 1]
        if w.startswith(opt + "="):
            return w[len(opt) + 1:]
    return None


def check_wiring(deploy):
    """The paths in the container's args are the ones its volumes put there, and the policy
    file is a key of the ConfigMap, in the DaemonSet's namespace."""
    path, docs, ds, pod, c = daemonset(deploy)
    where = f"{path}: DaemonSet {ds['metadata']['name']}"
    argv = argv_daemonset(deploy)
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    host = {v["hostPath"]["path"]: n for n, v in vols.items() if "hostPath" in v}

    def mounted(hostpath):
        return mounts.get(host.get(hostpath))

    for opt, hp, default in (("--sysfs-root", "/sys", "/sys"),
                             ("--device-plugin-dir", "/var/lib/kubelet/device-plugins",
                              "/var/lib/kubelet/device-plugins")):
        v = value_of(argv, opt) or default
        if v != mounted(hp):
            err(f"{where}: {opt} is {v}, but the host's {hp} is mounted at {mounted(hp)}")

    pol = value_of(argv, "--policy")
    if pol is None:
        err(f"{where}: no --policy in the container's args")
        return
    d, base = os.path.split(pol)
    cmv = [n for n, v in vols.items() if "configMap" in v and mounts.get(n) == d]
    if len(cmv) != 1:
        err(f"{where}: --policy {pol}: no configMap volume is mounted at {d}")
        return
    ref = vols[cmv[0]]["configMap"]
    key = base
    for it in ref.get("items", []):  # items remap keys to file names
        if it["path"] == base:
            key = it["key"]
    ns = ds["metadata"].get("namespace", "default")
    cpath, cdocs = load(deploy, "configmap.yaml")
    cm = find(cdocs, "ConfigMap", ref["name"])
    if cm is None:
        err(f"{where}: volume {cmv[0]} mounts ConfigMap {ref['name']}, which {cpath} lacks")
        return
    cns = cm["metadata"].get("namespace", "default")
    if cns != ns:
        err(f"{cpath}: ConfigMap {ref['name']} is in namespace {cns}; the DaemonSet (in {ns}) "
            f"cannot mount it")
    if key not in cm.get("data", {}):
        err(f"{cpath}: ConfigMap {ref['name']} has no key {key} (--policy {pol}); "
            f"keys: {sorted(cm.get('data', {}))}")
    check_probes(where, c, argv, mounts, vols)
    # The namespace and the service account the pod names come with it.
    if find(docs, "Namespace", ns) is None:
        err(f"{path}: no Namespace {ns} for the DaemonSet")
    sa = pod.get("serviceAccountName")
    if sa and not any(d.get("kind") == "ServiceAccount" and d["metadata"]["name"] == sa and
                      d["metadata"].get("namespace") == ns for d in docs):
        err(f"{path}: no ServiceAccount {sa} in namespace {ns}")


def check_probes(where, c, argv, mounts, vols):
    """Every probe asks what mdevd serves: an httpGet one the port of --metrics-address and
    one of /readyz, /livez; an exec one `mdevd status --check` on --status-socket, whose
    directory a writable volume provides (the root filesystem is read-only)."""
    addr = value_of(argv, "--metrics-address")
    sock = value_of(argv, "--status-socket")
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    probes = {k: c[k] for k in ("readinessProbe", "livenessProbe", "startupProbe") if k in c}
    if "readinessProbe" not in probes or "livenessProbe" not in probes:
        err(f"{where}: want a readinessProbe and a livenessProbe (mdevd serves both)")
    for kind, pr in probes.items():
        if "httpGet" in pr:
            hg = pr["httpGet"]
            port = ports.get(hg["port"], hg["port"])
            if addr is None:
                err(f"{where}: {kind} asks HTTP but the args have no --metrics-address")
            elif str(port) != addr.rpartition(":")[2]:
                err(f"{where}: {kind} asks port {hg['port']} ({port}), but mdevd serves on "
                    f"--metrics-address {addr}")
            if hg.get("path") not in ("/readyz", "/livez"):
                err(f"{where}: {kind} asks {hg.get('path')}; mdevd answers /readyz, /livez")
        elif "exec" in pr:
            cmd = pr["exec"]["command"]
            if os.path.basename(cmd[0]) != "mdevd" or cmd[1:3] != ["status", "--check"]:
                err(f"{where}: {kind} runs {cmd}, want mdevd status --check")
            psock = value_of(cmd, "--socket")
            if sock is None or psock != sock:
                err(f"{where}: {kind} asks --socket {psock}, the daemon listens on "
                    f"--status-socket {sock}")
        else:
            err(f"{where}: {kind} is neither httpGet nor exec")
    if sock:
        d = os.path.dirname(sock)
        mv = [n for n, p in mounts.items() if p == d]
        if not mv or "emptyDir" not in vols.get(mv[0], {}):
            err(f"{where}: --status-socket {sock}: no emptyDir volume is mounted at {d}")


def check_external(deploy):
    path, _, cr = kubevirt_cr(deploy)
    where = f"{path}: KubeVirt {cr['metadata']['name']}"
    hd = host_devices(cr)
    n = 0
    for kind in ("mediatedDevices", "pciHostDevices"):
        for i, e in enumerate(hd.get(kind, [])):
            n += 1
            if e.get("externalResourceProvider") is not True:
                err(f"{where}: permittedHostDevices.{kind}[{i}] ({e.get('resourceName')}): "
                    f"externalResourceProvider is not true, so virt-handler would serve it too")
    if n == 0:
        err(f"{where}: no permittedHostDevices")
    dev = cr["spec"]["configuration"].get("developerConfiguration") or {}
    gates = dev.get("featureGates") or []
    if "DisableMDEVConfiguration" not in gates:
        err(f"{where}: no DisableMDEVConfiguration feature gate: virt-handler would create and "
            f"remove mdevs next to mdevd")


def entries(hd):
    mdev = {(e["mdevNameSelector"], e["resourceName"]) for e in hd.get("mediatedDevices", [])}
    pci = {(e["pciVendorSelector"].lower(), e["resourceName"])
           for e in hd.get("pciHostDevices", [])}
    return mdev, pci


def check_agree(deploy):
    """kubevirt-cr.yaml promises "the same entries as mdevd's policy (configmap.yaml)": KubeVirt
    lets VMs request exactly the resources mdevd serves."""
    ppath, text = policy_text(deploy)
    cpath, _, cr = kubevirt_cr(deploy)
    pm, pp = entries(host_devices(json.loads(text)))
    cm, cp = entries(host_devices(cr))
    for kind, a, b in (("mediatedDevices", pm, cm), ("pciHostDevices", pp, cp)):
        for e in sorted(a - b):
            err(f"{ppath} serves {kind} {e}, which {cpath} does not permit")
        for e in sorted(b - a):
            err(f"{cpath} permits {kind} {e}, which {ppath}'s policy does not serve")


BDF = re.compile(r"^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")


def check_fleet(deploy):
    """The ConfigMap is mounted on every node: its layouts must select parents by what a
    fleet shares (vendor:device, a parent name, "all"), not by one node's PCI address."""
    path, text = policy_text(deploy)
    layouts = json.loads(text).get("mdevd", {}).get("layouts", [])
    if not layouts:
        err(f"{path}: the policy has no mdevd.layouts")
    for i, l in enumerate(layouts):
        parents = l.get("parents")
        for j, p in enumerate(parents if isinstance(parents, list) else []):
            if BDF.match(p):
                err(f"{path}: mdevd.layouts[{i}].parents[{j}] is the PCI address {p}: one "
                    f"node's address in a fleet-wide ConfigMap (select by vendor:device)")


def check_vm(deploy):
    """The example VM asks for a resource the CR permits, in the right device list."""
    path, docs, cr = kubevirt_cr(deploy)
    mdev, pci = entries(host_devices(cr))
    mres = {r for _, r in mdev}
    pres = {r for _, r in pci}
    vms = [d for d in docs if d.get("kind") == "VirtualMachine"]
    if not vms:
        err(f"{path}: no example VirtualMachine")
    for vm in vms:
        devs = vm["spec"]["template"]["spec"]["domain"]["devices"]
        for kind, allowed in (("gpus", mres), ("hostDevices", pres)):
            for g in devs.get(kind, []):
                if g["deviceName"] not in allowed:
                    err(f"{path}: VirtualMachine {vm['metadata']['name']}: {kind} "
                        f"{g['name']} asks for {g['deviceName']}, not one of {sorted(allowed)}")


# What mdevd asks of the API server (mdevd/kubernetes/): exactly these verbs per resource.
RBAC_WANTED = {
    ("kubevirt.io", "kubevirts"): {"get", "list", "watch"},
    ("hco.kubevirt.io", "hyperconvergeds"): {"get", "list", "watch"},
    ("", "nodes"): {"get", "list", "watch"},
    # The Node's Events (kube_recorder.c): POST a new one, PATCH its count.
    ("", "events"): {"create", "patch"},
}


def check_rbac(deploy):
    """rbac.yaml grants what mdevd asks, nothing more, and binds it to the DaemonSet's account."""
    path, docs = load(deploy, "rbac.yaml")
    role = find(docs, "ClusterRole", "mdevd")
    if role is None:
        err(f"{path}: no ClusterRole mdevd")
        return
    granted = {}
    for rule in role.get("rules", []):
        for g in rule.get("apiGroups", []):
            for r in rule.get("resources", []):
                granted.setdefault((g, r), set()).update(rule.get("verbs", []))
    for key, verbs in RBAC_WANTED.items():
        have = granted.get(key, set())
        if not verbs <= have:
            err(f"{path}: ClusterRole mdevd: {key[1]} ({key[0] or 'core'}) lacks "
                f"{sorted(verbs - have)}")
    for key, have in granted.items():
        extra = have - RBAC_WANTED.get(key, set())
        if extra:
            err(f"{path}: ClusterRole mdevd: {key[1]} ({key[0] or 'core'}) grants "
                f"{sorted(extra)}, which mdevd never asks")
    binding = find(docs, "ClusterRoleBinding", "mdevd")
    _, _, ds, pod, _ = daemonset(deploy)
    account = (pod.get("serviceAccountName"), ds["metadata"].get("namespace"))
    if binding is None or binding["roleRef"]["name"] != "mdevd" or not any(
            (s.get("kind"), s.get("name"), s.get("namespace")) == ("ServiceAccount", *account)
            for s in binding.get("subjects", [])):
        err(f"{path}: no ClusterRoleBinding mdevd of ClusterRole mdevd to the DaemonSet's "
            f"ServiceAccount {account[1]}/{account[0]}")


def main():
    deploy, what, *args = sys.argv[1:]
    printers = {
        "argv": lambda kind: print("\n".join(  # an argv, one word a line
            {"daemonset": argv_daemonset, "containerfile": argv_containerfile,
             "unit": argv_unit}[kind](deploy))),
        "policy": lambda: sys.stdout.write(policy_text(deploy)[1]),  # the ConfigMap's policy
        "kubevirt-json": lambda: json.dump(kubevirt_cr(deploy)[2], sys.stdout),
    }
    checks = {"parse": check_parse, "volumes": check_volumes, "security": check_security,
              "argv-check": check_argv, "wiring": check_wiring, "external": check_external,
              "agree": check_agree, "vm": check_vm, "fleet": check_fleet,
              "rbac": check_rbac}
    try:
        if what in printers:
            printers[what](*args)
            return
        checks[what](deploy, *args)
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        # A key the check relies on is missing or has the wrong type.
        err(f"{deploy}: {what}: a key is missing or malformed: {e!r}")
    for e in errors:
        print(e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
