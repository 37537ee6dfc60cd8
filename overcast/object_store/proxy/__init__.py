"""The proxy role: where an object's replicas go (the ring) and how they are written and
read (quorum, handoffs, the newest replica wins). Called by the API; calls the object servers.
"""
