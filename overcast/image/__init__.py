"""The image service (OpenStack Glance v2): images, their data and stores, members and tags."""
