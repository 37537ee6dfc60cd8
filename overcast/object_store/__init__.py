"""Object storage (OpenStack Swift's v1 API, and S3 beside it): accounts, containers and
objects kept in replicas on the devices of a ring."""
