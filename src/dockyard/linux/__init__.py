"""Kernel and filesystem primitives shared by every layer.

Owns: the ctypes bindings for the syscalls Python's ``os`` lacks
(``syscalls``: mount, umount2, unshare, setns, pivot_root, sethostname,
setdomainname, capget/capset, prctl), crash-safe file writes
(``atomic``: temp file + fsync + rename), an rtnetlink client
(``rtnetlink``: links, addresses, routes), inotify (``inotify``), free
ports (``ports``), process listing (``procs``) and SQLite set-up
(``sqlitedb``).

This sits beside ``oci`` at the bottom of the stack (ARCHITECTURE.md puts
``oci`` alone there; syscall wrappers are needed by the runtime, the
snapshotters and the network drivers alike, so they get their own
bottom-layer package instead of living inside ``runtime``).
It must never import another dockyard package.
"""
