"""REST clients for other services: the only way one service reaches another's data.

Each client speaks the OpenStack API of its service over real HTTP to the URL in the catalog,
with the caller's token, and turns HTTP errors into `overcast.common.errors`.
"""
