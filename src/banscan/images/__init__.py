"""Disk images scanned without mounting: VMDK, VHD/VHDX, QCOW2, E01, raw disks and cloud
snapshots exported as raw or VHD.

`detect` tells an image by its content, `volumes` finds its partitions, logical volumes and
encrypted volumes (dfvfs), `copyout` copies what the collectors read out of each file system,
and `scan` scans each volume with an operating system as `--root` scans a mounted one.
"""
