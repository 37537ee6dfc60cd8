"""The guest image compute boots by default (`overcast-guest`): a Debian kernel, busybox,
dropbear and a CirrOS-like init on a bootable qcow2 disk, built from downloaded Debian packages.

`build.ensure(...)` is what `overcast image build` and `overcast up` call; the pieces are
`packages` (apt download and unpack), `elf` (module and library dependencies), `rootfs` (the
root tree and initramfs) and `disk` (partitions, boot loader, qcow2).
"""
