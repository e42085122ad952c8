"""OCI spec types: runtime (config.json, state), image and distribution.

Owns typed structures named as the specs name their fields, their loading
from and dumping to JSON (with the exact path of a bad field in errors),
digest and media-type helpers. No I/O beyond parsing bytes; imports nothing
of ours.
"""
