"""Container names: Docker's validity rule and its ``adjective_surname`` random names."""

from __future__ import annotations

import random
import re

from .errors import InvalidParameter

# Docker's rule (daemon/names/names.go): a letter or digit, then letters,
# digits, '_', '.', '-'; at least two characters; an optional leading '/'.
_VALID = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

_ADJECTIVES = (
    "agile", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring",
    "eager", "fancy", "gentle", "happy", "humble", "jolly", "keen", "lively", "lucid",
    "merry", "nimble", "noble", "patient", "quiet", "rapid", "serene", "sharp", "steady",
    "sunny", "swift", "tender", "vivid", "witty", "zealous",
)
_SURNAMES = (
    "babbage", "bardeen", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler",
    "faraday", "fermi", "feynman", "gauss", "hamilton", "hopper", "hubble", "kepler",
    "knuth", "lamarr", "lovelace", "maxwell", "meitner", "newton", "noether", "pascal",
    "planck", "ritchie", "shannon", "tesla", "thompson", "turing", "volta", "wozniak",
)


def validate(name: str) -> str:
    """The canonical form (no slash) of a valid name; InvalidParameter otherwise."""
    if not _VALID.match(name):
        raise InvalidParameter(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name.lstrip("/")


def random_name(retry: int = 0) -> str:
    name = f"{random.choice(_ADJECTIVES)}_{random.choice(_SURNAMES)}"
    if retry:
        name += str(random.randint(0, 9))
    return name
