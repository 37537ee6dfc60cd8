"""Fixtures for the trace tests: the compute tests' public image."""

from __future__ import annotations

from tests.compute.conftest import cirros

__all__ = ["cirros"]
