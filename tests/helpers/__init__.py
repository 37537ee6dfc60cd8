"""Test helpers: a real server on a free port, client wrappers and the isolation pattern."""
