"""``--change`` lines: Dockerfile instructions applied to an image config."""

from __future__ import annotations

import pytest

from dockyard.images.changes import apply_changes, parse_changes
from dockyard.images.errors import InvalidChangeError
from dockyard.oci.image import ContainerConfig


def _apply(*lines: str, base: ContainerConfig | None = None) -> ContainerConfig:
    return apply_changes(base, parse_changes(lines))


def test_forms() -> None:
    c = _apply('CMD ["a", "b c"]', "ENTRYPOINT exec app --flag", "ONBUILD RUN make",
               "ENV PATH=/bin X='single quoted' Y=esc\\ aped", "LABEL a.b=\"x\" 'c d'=e")
    assert c.cmd == ["a", "b c"]
    assert c.entrypoint == ["/bin/sh", "-c", "exec app --flag"]
    assert c.on_build == ["RUN make"]
    assert c.env == ["PATH=/bin", "X=single quoted", "Y=esc aped"]
    assert c.labels == {"a.b": "x", "c d": "e"}


def test_later_changes_win_and_base_is_untouched() -> None:
    base = ContainerConfig(env=["A=1", "B=2"], cmd=["old"], working_dir="/w")
    c = _apply("ENV A=3", "CMD new", "WORKDIR ../x", 'CMD ["last"]', base=base)
    assert c.env == ["B=2", "A=3"] and c.cmd == ["last"] and c.working_dir == "/x"
    assert base.env == ["A=1", "B=2"] and base.cmd == ["old"]  # a copy was changed


def test_multiline_and_lowercase() -> None:
    c = _apply("cmd [\"x\"]\nuser nobody", "")
    assert c.cmd == ["x"] and c.user == "nobody"


@pytest.mark.parametrize(
    ("line", "message"),
    [("FROM x", "FROM is not a valid change command"), ("COPY a b", "COPY is not a valid"),
     ("ONBUILD FROM x", "isn't allowed as an ONBUILD trigger"), ("EXPOSE 0", "invalid port range"),
     ("EXPOSE 80/icmp", "invalid port"), ("LABEL =x", "empty key"), ("USER", "requires an argument")],
)
def test_refused(line: str, message: str) -> None:
    with pytest.raises(InvalidChangeError, match=message):
        _apply(line)
