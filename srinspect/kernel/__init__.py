"""Kernels: what the running one can do, which images could boot instead, and guests.

- ``probe``: the host kernel's SRv6 pieces, found by trying them in a throwaway namespace;
- ``images``: kernel images on this machine (``/boot/vmlinuz-*``) and whether each has SRv6;
- ``tools``: versions of the external programs srinspect drives, and whether KVM works;
- ``guest``: run a command in a virtme-ng guest booted from an image (QEMU, KVM or TCG);
- ``choice``: which kernel a command that needs SRv6 runs on (host, an image, or none);
- ``doctor``: the ``srinspect doctor`` report built from all of the above.
"""
