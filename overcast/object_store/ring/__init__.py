"""The ring, split as Swift splits it by when code runs: `builder` (offline: devices, weights,
rebalance; driven by `overcast ring`) and `ring` (online: path → partition → devices, reloaded
when its file changes)."""
