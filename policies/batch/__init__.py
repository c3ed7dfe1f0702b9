"""Batch policies: when a tier's held tickets enter the ready queue (one policy per module)."""
