"""Repository names, tags and references as the distribution spec writes them.

    name       ::= component ("/" component)*          at most 255 characters
    component  ::= [a-z0-9]+ (separator [a-z0-9]+)*
    separator  ::= "." | "_" | "__" | "-"+
    tag        ::= [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
    reference  ::= tag | digest

The grammar keeps names safe as URL paths and file names alike: no ``..``,
no leading or doubled slashes, no upper case, nothing outside ASCII.
"""

from __future__ import annotations

import re
from typing import Final

from dockyard.oci.digest import Digest, parse_digest
from dockyard.oci.errors import InvalidDigestError

from .errors import DigestInvalidError, NameInvalidError

MAX_NAME_LENGTH: Final = 255
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE: Final = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_RE: Final = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid repository name; else ``NameInvalidError``."""
    if len(name) > MAX_NAME_LENGTH:
        raise NameInvalidError(
            f"invalid repository name {name[:64]!r}...: longer than {MAX_NAME_LENGTH} characters",
            detail={"name": name[:300]},
        )
    if not NAME_RE.fullmatch(name):
        raise NameInvalidError(
            f"invalid repository name {name!r}: expected lowercase components "
            f"[a-z0-9] joined by '.', '_', '__' or '-', separated by '/'",
            detail={"name": name},
        )
    return name


def is_tag(value: str) -> bool:
    return TAG_RE.fullmatch(value) is not None


def parse_reference(reference: str) -> Digest | str:
    """A manifest reference: a ``Digest`` when it looks like one, else a tag.

    Raises ``DigestInvalidError`` for a malformed digest (``sha256:xyz``) and
    ``ValueError`` for something that is neither a tag nor a digest.
    """
    if ":" in reference:
        try:
            return parse_digest(reference)
        except InvalidDigestError as e:
            raise DigestInvalidError(str(e), detail={"digest": reference[:200]}) from None
    if not is_tag(reference):
        raise ValueError(
            f"invalid tag {reference[:200]!r}: expected [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}"
        )
    return reference


def parse_blob_digest(value: str) -> Digest:
    """A digest from a URL or query; ``DigestInvalidError`` saying why not."""
    try:
        return parse_digest(value)
    except InvalidDigestError as e:
        raise DigestInvalidError(str(e), detail={"digest": value[:200]}) from None
