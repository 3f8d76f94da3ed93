"""Small shared helpers with named modules (no utils dumping ground)."""
