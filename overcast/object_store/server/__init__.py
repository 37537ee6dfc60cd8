"""The object server role: this node's devices served over HTTP to the proxies and
replicators of other nodes (the far end of `drivers.http`), run by the `object` role when
`object_store.server_url` is set.
"""
