"""Queue policies: who gets the next free slot among released tickets (one policy per module)."""
