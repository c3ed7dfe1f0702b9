"""Route policies: which backend a dispatched ticket goes to (one policy per module)."""
