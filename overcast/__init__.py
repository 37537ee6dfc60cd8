"""Overcast: a cloud operating system in the shape of OpenStack."""

__version__ = "0.1.0"
