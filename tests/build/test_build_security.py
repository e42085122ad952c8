"""Bad input and attacks: nothing outside the context is read, failures are clear,
nothing partial is tagged, a cancelled build leaves no containers or mounts."""

from __future__ import annotations

import os
import signal
import tarfile
import threading
import time

import pytest
from _buildtools import HERE, mounts_under

from dockyard.build.errors import BuildError, ContextError, RunError
from dockyard.images.errors import ImageNotFoundError
from dockyard.snapshot import Kind

CTX = HERE / "security" / "ctx"


@pytest.mark.parametrize("text, message", [
    ("COPY ../x /x", "forbidden path outside the build context"),
    ("COPY ../../../../etc/passwd /x", "forbidden path outside the build context"),
    ("COPY /etc/passwd /p", "not found in the build context"),  # absolute = inside the context
    ("COPY escape/passwd /p", "not found in the build context"),  # symlink resolved inside
    ("COPY escape /e/", "not found in the build context"),
    ("COPY dir/evil /x", "not found in the build context"),
    ("COPY dir/up /x", "not found in the build context"),
    ("COPY escape/* /x/", "matches nothing"),
    ("ADD ../x /x", "forbidden path outside the build context"),
    ("RUN --mount=type=bind,source=../../etc,target=/m cat /m/passwd", "forbidden path outside"),
])
def test_nothing_outside_the_context_is_read(build, store, unique, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ContextError, match=message):
        build(CTX, dockerfile_text=f"FROM busybox\n{text}\n", tags=[f"{unique}:sec"])
    with pytest.raises(ImageNotFoundError):
        store.get(f"{unique}:sec")


def test_symlinks_below_a_copied_directory_stay_symlinks(build, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "fs.tar"
    build(CTX, dockerfile_text="FROM busybox\nCOPY dir /d/\n", outputs=[{"type": "tar", "dest": str(out)}])
    with tarfile.open(out) as t:
        evil = t.getmember("d/evil")
        up = t.getmember("d/up")
        assert evil.issym() and evil.linkname == "/etc/hostname"
        assert up.issym()
        with open("/etc/hostname", "rb") as f:
            host = f.read()
        for m in t.getmembers():
            if m.name.startswith("d/") and m.isfile():
                data = t.extractfile(m)
                assert data is not None and data.read() != host


def _leftovers(builder, store) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    active = [i.name for i in store.snapshotter.walk(kind=Kind.ACTIVE)
              if i.name.startswith(f"build-{os.getpid()}-")]
    return mounts_under(builder.root), active


def test_failing_run_reports_exit_code_and_output(build, builder, store, unique) -> None:  # type: ignore[no-untyped-def]
    text = "FROM busybox\nRUN echo first; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line$i; done; exit 7\n"
    with pytest.raises(RunError) as e:
        build(CTX, dockerfile_text=text, tags=[f"{unique}:fail"])
    assert e.value.exit_code == 7
    assert "exit code: 7" in str(e.value) and "line12" in str(e.value)
    assert "first" not in e.value.output  # the last lines only
    with pytest.raises(ImageNotFoundError):
        store.get(f"{unique}:fail")
    assert _leftovers(builder, store) == ([], [])
    assert builder.runtime.list() == []


def test_one_failing_stage_stops_the_others(build, builder, store, unique) -> None:  # type: ignore[no-untyped-def]
    text = ("FROM busybox AS slow\nRUN sleep 30\n"
            "FROM busybox AS bad\nRUN sleep 0.3; exit 5\n"
            "FROM busybox\nCOPY --from=slow /etc/passwd /a\nCOPY --from=bad /etc/passwd /b\n")
    t0 = time.monotonic()
    with pytest.raises(RunError, match="exit code: 5"):
        build(CTX, dockerfile_text=text, tags=[f"{unique}:multi"])
    assert time.monotonic() - t0 < 15
    with pytest.raises(ImageNotFoundError):
        store.get(f"{unique}:multi")
    assert _leftovers(builder, store) == ([], [])
    assert builder.runtime.list() == []


def test_ctrl_c_stops_containers_and_leaves_no_mounts(build, builder, store, unique) -> None:  # type: ignore[no-untyped-def]
    main = threading.get_ident()
    retry = threading.Event()

    def on_sigint(signum, frame):  # type: ignore[no-untyped-def]
        # A KeyboardInterrupt raised inside a gc callback (hypothesis installs
        # one) is swallowed as "unraisable": ask for another Ctrl-C instead.
        if frame is not None and frame.f_code.co_name == "gc_callback":
            retry.set()
            return
        raise KeyboardInterrupt

    def interrupt() -> None:
        signal.pthread_kill(main, signal.SIGINT)
        while retry.wait(10.0):
            retry.clear()
            signal.pthread_kill(main, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, on_sigint)
    timer = threading.Timer(1.0, interrupt)
    timer.daemon = True
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            build(CTX, dockerfile_text="FROM busybox\nRUN sleep 30\n", tags=[f"{unique}:int"])
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - t0 < 15
    assert _leftovers(builder, store) == ([], [])
    assert builder.runtime.list() == []
    with pytest.raises(ImageNotFoundError):
        store.get(f"{unique}:int")


def test_unknown_instruction_and_bad_flags_fail_before_anything_runs(build, builder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BuildError, match="line 3: unknown instruction: RUNN"):
        build(CTX, dockerfile_text="FROM busybox\nRUN true\nRUNN x\n")
    with pytest.raises(BuildError, match="invalid --network"):
        build(CTX, network="bridge2")
    assert builder.du() == []  # the RUN before the bad line never ran


def test_rw_bind_mount_never_changes_the_context(build, ctx) -> None:  # type: ignore[no-untyped-def]
    (ctx / "keep.txt").write_text("original\n")
    build(ctx, dockerfile_text="FROM busybox\nRUN --mount=type=bind,rw,target=/src "
                               "echo changed > /src/keep.txt && rm -f /src/x && touch /src/new\n")
    assert (ctx / "keep.txt").read_text() == "original\n" and not (ctx / "new").exists()
    with pytest.raises(RunError, match="exit code"):  # read-only without rw
        build(ctx, dockerfile_text="FROM busybox\nRUN --mount=type=bind,target=/src touch /src/new\n")
    assert not (ctx / "new").exists()


def test_kill_9_mid_build_is_cleaned_up_by_the_next_builder(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from dockyard.build import Builder
    from dockyard.runtime.container import list_ids

    root = os.path.dirname(store.content.root)  # type: ignore[attr-defined]
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN sleep 60\n")
    dockyard = os.path.join(os.path.dirname(sys.executable), "dockyard")
    proc = subprocess.Popen([dockyard, "build", "-q", "--root", root, str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runtime_root = os.path.join(root, "build", "runtime")
    prefix = f"build-{proc.pid}-"
    deadline = time.monotonic() + 30
    while not (os.path.isdir(runtime_root) and any(c.startswith(prefix) for c in list_ids(runtime_root))):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    work = os.path.join(root, "build", "tmp")
    assert any(m.startswith(os.path.join(work, f"{proc.pid}-")) for m in mounts_under(work))
    b = Builder(store, os.path.join(root, "build"))  # its open cleans up after the dead pid
    b.close()
    assert not any(m.startswith(os.path.join(work, f"{proc.pid}-")) for m in mounts_under(work))
    assert not any(c.startswith(prefix) for c in list_ids(runtime_root))
    assert not [i.name for i in store.snapshotter.walk(kind=Kind.ACTIVE) if i.name.startswith(prefix)]
