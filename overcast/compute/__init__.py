"""Compute (OpenStack Nova): flavors, servers and hosts; the API, scheduler, conductor and agents."""
