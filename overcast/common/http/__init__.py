"""HTTP machinery shared by every service's API: auth, policy, faults, versions, paging."""
