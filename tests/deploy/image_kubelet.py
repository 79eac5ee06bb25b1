#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tests/kubelet/kubelet_test.py's kubelet stand-in against mdevd inside the image.

    image_kubelet.py WRAPPER        (run through tests/deploy/image.sh)

WRAPPER is a script that runs `podman run ... IMAGE "$@"` with the directory of its
--sysfs-root bind-mounted at the same path, so the sysfs tree, the policy and the
device-plugin directory of kubelet_test's Env are the same paths inside and out: Python
on the host plays kubelet on the sockets that gRPC (dlopen()ed from the image's
libgrpc29) serves inside the container. The tests are kubelet_test's own, in its order,
less those that look at the process behind Env.proc (fd counts, CPU time): here that is
the podman client, not mdevd. Signals reach mdevd through podman's signal proxy, as
kubelet's reach it through the container runtime.

Ends with "N passed, N failed"; exit status 1 when a test failed.
"""
import os
import sys

import kubelet_test as kt

TESTS = [
    ("registration", kt.test_registration),
    ("options", kt.test_options),
    ("list contents", kt.test_list_contents),
    ("allocate", kt.test_allocate),
    ("errors and malformed protobuf", kt.test_errors),
    ("preferred allocation", kt.test_preferred),
    ("list updates (SIGHUP through podman)", kt.test_updates),
    ("clients vanishing mid-stream", kt.test_vanishing_clients),
    ("kubelet restart", kt.test_kubelet_restart),
    ("shutdown sends an empty list (SIGTERM through podman)", kt.test_shutdown),
]

# What the daemon says once it serves, from inside the container: the paths are the host's.
SERVING = "device plugin %s: serving 6 devices on %s"


def main():
    wrapper = os.path.abspath(sys.argv[1])
    r = kt.Runner("image: ")

    def serving_logged(e):
        with open(e.log) as f:
            log = f.read()
        want = SERVING % (kt.NV, os.path.join(e.dir, kt.NV_SOCK))
        assert want in log, "no %r in the log:\n%s" % (want, log[-2000:])

    e = kt.Env(wrapper, False)
    try:
        e.start_kubelet()
        e.start()
    except Exception:
        e.cleanup()
        raise
    # The log check runs last (mdevd stopped by then), before run_all cleans up.
    r.run_all(e, TESTS + [("the daemon logs what it serves", serving_logged)],
              (kt.test_shutdown, serving_logged))
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
