"""The volume agent: one per configured back end (`node@backend`), serving the bus topic
`volume-agent` for its volumes. It runs the driver, reports the back end's pools, performs
backups of its volumes and reconciles what a crash interrupted when it starts."""
