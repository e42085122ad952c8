"""The volume driver contract, and where each driver comes from.

``local`` is built in (``local.LocalDriver``); any other name is a volume
plugin found by ``plugins.PluginRegistry`` (Docker looks drivers up the
same way: built-ins first, then plugins by name).

``mount(first=…)``/``unmount(last=…)``: the service keeps the users; the
local driver acts only on the first mount and the last unmount, while a
plugin is told about every user by ``ID``, as Docker's protocol does.
"""

from __future__ import annotations

from typing import Protocol

BUILTINS = ("local",)


class Driver(Protocol):
    name: str
    scope: str

    def validate(self, opts: dict[str, str]) -> None: ...

    def create(self, name: str, opts: dict[str, str]) -> None: ...

    def remove(self, name: str, opts: dict[str, str]) -> None: ...

    def mount(self, name: str, opts: dict[str, str], *, first: bool, ref: str = "") -> str: ...

    def unmount(self, name: str, opts: dict[str, str], *, last: bool, ref: str = "") -> None: ...

    def path(self, name: str) -> str: ...
