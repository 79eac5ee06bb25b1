#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write a one-layer OCI image archive (an OCI image layout in a tar) for `ctr images import`.

    oci-image.py OUT.tar NAME ENTRYPOINT FILE=PATH [LINK=TARGET ...]

NAME is the image reference (e.g. registry.k8s.io/pause:3.10.2), kept in the index's
io.containerd.image.name and org.opencontainers.image.ref.name annotations; ENTRYPOINT a
comma-separated argv; FILE=PATH puts the host file FILE at PATH in the layer (mode kept);
@PATH=TARGET adds a symlink at PATH to TARGET. No registry is
involved: the test cluster has none. Deterministic: mtimes are 0.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def blob(tar, data, media):
    d = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + d)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}


def layer(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        dirs = set()
        for src, dst in entries:
            parts = dst.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    t.addfile(info)
            info = tarfile.TarInfo(dst.strip("/"))
            if src.startswith("@"):
                info.type, info.linkname = tarfile.SYMTYPE, src[1:]
                t.addfile(info)
            else:
                with open(src, "rb") as f:
                    data = f.read()
                info.size, info.mode = len(data), os.stat(src).st_mode & 0o777
                t.addfile(info, io.BytesIO(data))
    diff = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(diff)
    return diff, gz.getvalue()


def main(out, name, entrypoint, specs):
    entries = []
    for s in specs:
        a, b = s.split("=", 1)
        entries.append(("@" + b, a[1:]) if a.startswith("@") else (a, b))
    diff, gz = layer(entries)
    with tarfile.open(out, "w") as tar:
        lay = blob(tar, gz, "application/vnd.oci.image.layer.v1.tar+gzip")
        config = {"architecture": "amd64", "os": "linux",
                  "config": {"Entrypoint": entrypoint.split(","), "Env": ["PATH=/bin"]},
                  "rootfs": {"type": "layers",
                             "diff_ids": ["sha256:" + hashlib.sha256(diff).hexdigest()]}}
        cfg = blob(tar, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cfg, "layers": [lay]}
        man = blob(tar, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
        man["annotations"] = {"io.containerd.image.name": name,
                              "org.opencontainers.image.ref.name": name}
        for fname, data in (("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"})),
                            ("index.json", json.dumps({"schemaVersion": 2, "manifests": [man]}))):
            info = tarfile.TarInfo(fname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data.encode()))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
