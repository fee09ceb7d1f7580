"""Shadow-mode comparison reports."""
