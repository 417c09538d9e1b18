"""The version; part of every cache key, so a new compiler never trusts an old object."""

__version__ = "0.2.0"
