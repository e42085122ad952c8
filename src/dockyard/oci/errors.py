"""Errors of the oci package.

    OCIError
    ├── InvalidSpecError      a config.json or state that does not parse or validate
    └── InvalidDigestError    a digest string with a bad algorithm or encoding
"""


class OCIError(Exception):
    """Base of oci's errors."""


class InvalidSpecError(OCIError, ValueError):
    """A document that does not follow its spec; the message names the field."""


class InvalidDigestError(OCIError, ValueError):
    """A digest that is not ``algorithm:hex`` of a known algorithm."""
