"""Pluggable scheduling policies: queue (who next), batch (when), route (where)."""
