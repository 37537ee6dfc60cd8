"""`make conformance`: OpenStack's conformance suite (Tempest) run against a fresh Overcast.

`run.py` is the driver: it starts a cloud, asks it what it has (`discover.py`), writes
`tempest.conf` from that (`tempest_conf.py`), runs `tempest.api` service by service and prints
the figures (`report.py`). Tempest lives in its own venv (`.conformance/venv`), never the
project's.
"""
