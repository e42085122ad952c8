"""Image references, parsed and normalised as Docker does.

The grammar is distribution/reference's::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] path
    domain           := host [ ":" port ]
    host             := domain-name | "[" ipv6 "]"
    domain-name      := component ("." component)*     component: [a-zA-Z0-9] or
                                                       [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
    path             := path-component ("/" path-component)*
    path-component   := [a-z0-9]+ (separator [a-z0-9]+)*
    separator        := "." | "_" | "__" | "-"+
    tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest           := a registered digest (sha256, sha512), see ``oci.digest``

Normalisation (Docker's ``ParseNormalizedNamed``): the first path element is
a domain only when it contains ``.`` or ``:`` or is ``localhost`` (or has an
uppercase letter, which then fails as a domain-less name would not);
otherwise the domain is ``docker.io``, and a one-element path on docker.io
gets ``library/``. ``index.docker.io`` is spelled ``docker.io``. A name
without tag or digest gets ``:latest`` (``with_default_tag``). The familiar
form drops what normalisation added: ``docker.io/library/busybox:latest``
shows as ``busybox:latest``.

>>> str(parse("busybox"))
'docker.io/library/busybox:latest'
>>> parse("localhost:5000/a/b@sha256:" + "a" * 64).domain
'localhost:5000'
>>> parse("busybox").familiar()
'busybox:latest'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.oci.digest import Digest, parse_digest
from dockyard.oci.errors import InvalidDigestError

from .errors import InvalidReferenceError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"

PATH_RE = re.compile(_PATH)
DOMAIN_RE = re.compile(_DOMAIN)
TAG_RE = re.compile(_TAG, re.ASCII)
# A bare 64-hex string is an image id, never a repository name.
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_SHORT_ID_RE = re.compile(r"(?:sha256:)?[a-f0-9]{1,64}")


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalised reference: ``domain/path[:tag][@digest]``.

    ``tag`` and ``digest`` may both be set (``repo:tag@sha256:…``: the
    digest wins when resolving, the tag is kept for display).
    """

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def name(self) -> str:
        """The repository's full name: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        s = self.name
        if self.tag is not None:
            s += ":" + self.tag
        if self.digest is not None:
            s += "@" + self.digest
        return s

    def familiar_name(self) -> str:
        """The repository as a user types it: ``busybox``, ``user/repo``, ``host:5000/r``."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in self.path[len(OFFICIAL_REPO_PREFIX):]:
                return self.path[len(OFFICIAL_REPO_PREFIX):]
            return self.path
        return self.name

    def familiar(self) -> str:
        """The whole reference in its short form: ``busybox:latest``."""
        s = self.familiar_name()
        if self.tag is not None:
            s += ":" + self.tag
        if self.digest is not None:
            s += "@" + self.digest
        return s

    def with_tag(self, tag: str) -> Reference:
        if not TAG_RE.fullmatch(tag):
            raise InvalidReferenceError(f"invalid tag format: {tag!r}: expected [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, None, parse_digest(digest))

    def repository(self) -> Reference:
        return Reference(self.domain, self.path)


def parse(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise ``text``; add ``:latest`` when it has neither tag nor digest.

    Raises ``InvalidReferenceError`` whose message starts with Docker's
    ``invalid reference format`` and names the bad part.
    """
    ref = parse_normalized(text)
    if default_tag and ref.tag is None and ref.digest is None:
        return Reference(ref.domain, ref.path, DEFAULT_TAG, None)
    return ref


def parse_normalized(text: str) -> Reference:
    """Parse ``text`` with Docker's normalisation, without adding a default tag."""
    if not isinstance(text, str):
        raise InvalidReferenceError(f"invalid reference format: expected a string, got {type(text).__name__}")
    if text == "":
        raise InvalidReferenceError("invalid reference format: empty reference")
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReferenceError(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    rest, at, digest_text = text.partition("@")
    digest: Digest | None = None
    if at:
        try:
            digest = parse_digest(digest_text)
        except InvalidDigestError as e:
            raise InvalidReferenceError(f"invalid reference format: {text!r}: {e}") from None
    # The tag is after the last ':' unless that ':' belongs to a domain's
    # port (then a '/' follows it).
    name, tag = rest, None
    colon = rest.rfind(":")
    if colon != -1 and "/" not in rest[colon + 1:]:
        name, tag = rest[:colon], rest[colon + 1:]
        if not TAG_RE.fullmatch(tag):
            if len(tag) > 128:
                raise InvalidReferenceError(
                    f"invalid reference format: tag {tag[:20]!r}... is {len(tag)} characters long, "
                    f"at most 128 are allowed"
                )
            raise InvalidReferenceError(
                f"invalid reference format: invalid tag {tag!r} in {text!r}: "
                f"expected [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
            )
    domain, path = _split_domain(name)
    if path != path.lower():
        raise InvalidReferenceError(
            f"invalid reference format: repository name must be lowercase (got {text!r})"
        )
    if not DOMAIN_RE.fullmatch(domain):
        raise InvalidReferenceError(f"invalid reference format: invalid domain {domain!r} in {text!r}")
    if not path or not PATH_RE.fullmatch(path):
        raise InvalidReferenceError(
            f"invalid reference format: {text!r}: repository name {path!r} must be "
            f"lowercase letters, digits and separators (. _ __ -) between path components"
        )
    if len(domain) + 1 + len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(
            f"invalid reference format: repository name must not be more than "
            f"{NAME_TOTAL_LENGTH_MAX} characters (got {len(domain) + 1 + len(path)})"
        )
    return Reference(domain, path, tag, digest)


def _split_domain(name: str) -> tuple[str, str]:
    first, slash, remainder = name.partition("/")
    if not slash or (
        "." not in first and ":" not in first and first != "localhost" and first == first.lower()
    ):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, remainder
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    return domain, path


def is_image_id_prefix(text: str) -> bool:
    """True when ``text`` could be a (short) image id: hex, optionally ``sha256:``-prefixed."""
    return bool(_SHORT_ID_RE.fullmatch(text))
