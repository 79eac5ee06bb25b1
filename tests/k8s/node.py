#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The node the devicemanager harness serves: node.py ROOT writes a sysfs tree under ROOT.

Two T4 cards as a T4 really is (mdev types on the PF, time-sliced), one per NUMA node, each
with three live GRID T4-1Q (nvidia-230) mdevs: the pool nvidia.com/GRID_T4-1Q has six devices
on two cards, so a preferred allocation has something to choose. Two edu functions on
vfio-pci (example.com/EDU), one with an iommufd cdev. Built with tests/fixtures/make-tree.py.
"""
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("make_tree",
                                              os.path.join(ROOT, "tests/fixtures/make-tree.py"))
mt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mt)


def main(root):
    t = mt.fresh(root)
    for card, numa, group in (("0000:3b:00.0", 0, 40), ("0000:af:00.0", 1, 60)):
        live = [("%s-0000-4000-8000-00000000000%d" % (("3b3b3b3b", "afafafaf")[numa], k),
                 "nvidia-230") for k in range(1, 4)]
        mt.mdev_pf_card(t, card, 0x1eb8, mt.T4_PF_TYPES, live, group, numa, 16)
    t.pci("0000:00:03.0", 0x1234, 0x11e8, 0x00ff00, 0x1af4, 0x1100, driver="vfio-pci", group=2)
    t.pci("0000:00:04.0", 0x1234, 0x11e8, 0x00ff00, 0x1af4, 0x1100, driver="vfio-pci", group=3)
    mt.vfio_cdev(t, "devices/pci0000:00/0000:00:04.0", 7)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
