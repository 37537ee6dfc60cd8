"""The kernel every service shares. It imports no service."""
