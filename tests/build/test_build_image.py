"""A one-stage build: config, history, labels, tags, ONBUILD, --iidfile, --label, --build-arg."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from dockyard.build.errors import BuildError, DockerfileError, StageError
from dockyard.images.errors import ImageNotFoundError


def _files(svc, ref: str, tmp: Path) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """The image's files, through ``save``-independent export of its layers."""
    out: dict[str, bytes] = {}
    img = svc.get(ref)
    for layer in img.layers:
        with svc.content.open(layer.digest) as f, tarfile.open(fileobj=f, mode="r|*") as t:
            for m in t:
                if m.isfile():
                    data = t.extractfile(m)
                    assert data is not None
                    out[m.name.removeprefix("./")] = data.read()
    return out


def test_config_history_and_files(build, store, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    iid = tmp_path / "iid"
    r = build("basic", tags=[f"{unique}:a", f"{unique}-b:v1"], build_args={"WHO": "dock", "NOPE": "x"},
              labels={"extra": "yes"}, iidfile=str(iid))
    assert iid.read_text() == r.image_id
    assert any("[NOPE]" in w and "not consumed" in w for w in r.warnings)
    img = store.get(f"{unique}:a")
    assert img.id == r.image_id == store.get(f"{unique}-b:v1").id
    c = img.config.config
    assert c.env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREET=hi dock", "EMPTY="]
    assert c.labels == {"org.example.who": "dock", "quoted key": "v 1", "extra": "yes"}
    assert c.working_dir == "/app" and c.user == "65534:65534"
    assert set(c.exposed_ports or {}) == {"80/tcp", "53/udp"} and set(c.volumes or {}) == {"/data"}
    assert c.stop_signal == "SIGTERM"
    assert c.healthcheck.test == ["CMD-SHELL", "wget -q localhost || exit 1"]
    assert c.healthcheck.interval == 5_000_000_000 and c.healthcheck.retries == 3
    assert c.shell == ["/bin/sh", "-ec"]
    assert c.entrypoint == ["/bin/sh"] and c.cmd == ["/bin/sh", "-ec", "echo done"]
    assert c.on_build == ["RUN echo triggered > /tmp/onbuild"]
    files = _files(store, f"{unique}:a", tmp_path)
    assert files["greet"] == b"hi dock dflt alt\n"
    assert files["arch"] == b"TARGETARCH=\n"  # not in scope before ARG TARGETARCH
    assert files["targetarch"] == f"{store.platform.architecture}\n".encode()
    assert files["opt/hello.txt"] == b"hello\n"
    assert files["pwd"] == b"/app\n"
    hist = img.config.history
    created = [h.created_by for h in hist if h.created_by]
    assert "ARG GREETING=hi" in created and "ARG WHO=dock" in created
    assert "ENV GREET=hi dock EMPTY=" in created
    assert any(c.startswith("RUN |2 GREETING=hi WHO=dock /bin/sh -c echo") and c.endswith("# buildkit")
               for c in created)
    assert "COPY hello.txt /opt/ # buildkit" in created
    assert "WORKDIR /app" in created
    assert 'CMD ["/bin/sh" "-ec" "echo done"]' in created
    assert 'ENTRYPOINT ["/bin/sh"]' in created
    assert "EXPOSE 80 53/udp" in created and "VOLUME [/data]" in created
    assert 'HEALTHCHECK &{["CMD-SHELL" "wget -q localhost || exit 1"] "5s" "2s" "0s" "0s" \'\\x03\'}' in created
    # one layer per RUN/COPY/WORKDIR-that-created, empty_layer for the rest
    layers = [h for h in hist if not h.empty_layer]
    assert len(layers) == len(img.layers)
    assert all(h.empty_layer for h in hist if h.created_by and h.created_by.split()[0] in
               ("ENV", "LABEL", "ARG", "USER", "EXPOSE", "CMD", "ENTRYPOINT"))


def test_onbuild_triggers_run_in_the_child(build, store, unique) -> None:  # type: ignore[no-untyped-def]
    build("basic", tags=[f"{unique}:parent"])
    r = build("onbuild", tags=[f"{unique}:child"], build_args={"PARENT": f"{unique}:parent"})
    child = store.get(f"{unique}:child")
    assert child.id == r.image_id
    assert not child.config.config.on_build  # triggers are consumed, not inherited
    assert any(h.created_by and "echo triggered" in h.created_by for h in child.config.history)


def test_missing_base_image_is_clear_and_tags_nothing(build, store, unique) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StageError, match="does not pull"):
        build("onbuild", tags=[f"{unique}:x"], build_args={"PARENT": "no-such-image-here"})
    with pytest.raises(ImageNotFoundError):
        store.get(f"{unique}:x")


def test_bad_tag_fails_before_building(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BuildError, match="invalid tag"):
        build("basic", tags=["UPPER:case"])


def test_built_image_runs_in_a_plain_runtime(build, store, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The layers written are real: unpack the image and read a file through the snapshot."""
    build("basic", tags=[f"{unique}:run"])
    chain = store.unpack(f"{unique}:run")
    view = f"view-{unique}"
    mounts = store.snapshotter.view(view, chain)
    target = tmp_path / "mnt"
    target.mkdir()
    from dockyard.snapshot import mount_all, unmount_all

    mount_all(mounts, str(target))
    try:
        assert (target / "greet").read_text() == "hi world dflt alt\n"
        out = subprocess.run(["chroot", str(target), "/bin/sh", "-c", "cat /opt/hello.txt"],
                             capture_output=True, text=True, check=True).stdout
        assert out == "hello\n"
        assert oct(os.stat(target / "app").st_mode & 0o777) == "0o755"
    finally:
        unmount_all(str(target))
        store.snapshotter.remove(view)



def test_heredocs_in_run_and_copy(build, store, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    build("heredoc", tags=[f"{unique}:h"])
    files = _files(store, f"{unique}:h", tmp_path)
    assert files["script-out"] == b"script\nsecond\n"
    assert files["fed"] == b"fed /root\n"
    assert files["chomped"] == b"chomped\n"
    assert files["multi/A"] == b"first\n" and files["multi/B"] == b"second\n"
    assert files["shebang"] == b"from a shebang script: /dev/pipes/EOF\n"
    assert not any(name.startswith("dev/") for name in files)


def test_run_security_insecure_is_refused(build, ctx) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DockerfileError, match="--security=insecure is not allowed"):
        build(ctx, dockerfile_text="FROM busybox\nRUN --security=insecure true\n")
