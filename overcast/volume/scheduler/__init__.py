"""The volume scheduler: picks a back-end pool for each new volume (filters, then weighers)
and casts the create to that back end's agent. Served on the bus topic `volume-scheduler`."""
