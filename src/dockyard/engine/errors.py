"""The engine's errors; each maps to one HTTP status and one CLI exit code at the edge.

::

    EngineError                 500  something failed inside the engine
    ├── InvalidParameter        400  bad input: names the field and what was expected
    ├── NotFound                404  no such container / image / exec instance
    ├── Conflict                409  name in use, container running, not running, ...
    ├── NotModified             304  already started / already stopped
    └── NotImplementedByDriver  501  the storage driver cannot do this (diff on native)
"""

from __future__ import annotations


class EngineError(Exception):
    status = 500


class InvalidParameter(EngineError):
    status = 400


class NotFound(EngineError):
    status = 404


class Conflict(EngineError):
    status = 409


class NotModified(EngineError):
    status = 304


class NotImplementedByDriver(EngineError):
    status = 501
