"""``down`` and profiles, as docker compose v2: the containers and images of services
whose profile is not active are left alone (no orphans, even with ``--remove-orphans``;
``--rmi`` passes them over), what they still use stays with "Resource is still in use",
and ``--profile``/``COMPOSE_PROFILES`` (or naming them: ``down SERVICE``) bring them into
``down`` — the real CLI against a private daemon, checked on the engine directly."""

from __future__ import annotations

from typing import Any

from test_compose_up_build import _image_id, _tag
from test_compose_up_cli import compose, daemon  # noqa: F401  (fixtures)


def test_down_and_rmi_leave_services_of_inactive_profiles(compose: Any) -> None:  # noqa: F811
    c = compose("down_profiles")
    p = c.project
    _tag(c, "busybox", f"{p}-base")
    _tag(c, "busybox", f"{p}-extra")
    try:
        c("--profile", "debug", "up", "-d")
        assert sorted(c.ids()) == [f"{p}-base-1", f"{p}-debug-1", f"{p}-extra-1"]
        assert _image_id(c, f"{p}-debug")

        # the profile not active: only base goes, with its image; debug and extra are
        # no orphans, and what they use stays
        r = c("down", "--rmi", "all", "-v", "--remove-orphans")
        assert sorted(c.ids()) == [f"{p}-debug-1", f"{p}-extra-1"], r.stderr
        assert "orphan" not in r.stderr.lower()
        assert f"Network {p}_default  Resource is still in use" in r.stderr
        assert f"Volume {p}_data  Resource is still in use" in r.stderr
        assert [n["Name"] for n in c.networks()] == [f"{p}_default"]
        assert [v["Name"] for v in c.volumes()] == [f"{p}_data"]
        assert _image_id(c, f"{p}-base") is None
        assert _image_id(c, f"{p}-debug") and _image_id(c, f"{p}-extra")
        assert _image_id(c, "busybox")

        # --profile: they go too; --rmi local takes the built image only
        r = c("--profile", "debug", "down", "--rmi", "local")
        assert c.containers() == [] and c.networks() == [], r.stderr
        assert _image_id(c, f"{p}-debug") is None and _image_id(c, f"{p}-extra")
        assert [v["Name"] for v in c.volumes()] == [f"{p}_data"]  # no -v

        # COMPOSE_PROFILES as well; --rmi all takes the named image, -v the volume
        _tag(c, "busybox", f"{p}-base")  # taken by the first down
        c("--profile", "debug", "up", "-d")

        # down SERVICE enables its profile; only its container goes (and its image)
        r = c("down", "nope", check=False)
        assert r.returncode != 0 and "no such service: nope" in r.stderr, r.stderr
        r = c("down", "--rmi", "local", "debug")
        assert sorted(c.ids()) == [f"{p}-base-1", f"{p}-extra-1"], r.stderr
        assert _image_id(c, f"{p}-debug") is None and _image_id(c, f"{p}-base")
        assert f"Network {p}_default  Resource is still in use" in r.stderr

        c.env["COMPOSE_PROFILES"] = "debug"
        r = c("down", "--rmi", "all", "-v")
        assert c.containers() == [] and c.networks() == [] and c.volumes() == [], r.stderr
        assert _image_id(c, f"{p}-debug") is None and _image_id(c, f"{p}-extra") is None
        assert "Resource is still in use" not in r.stderr
    finally:
        c.env["COMPOSE_PROFILES"] = "debug"
        c("down", "-v", check=False)
        with c.d.api() as api:
            for ref in (f"{p}-base", f"{p}-extra", f"{p}-debug"):
                api.delete(f"/images/{ref}")
