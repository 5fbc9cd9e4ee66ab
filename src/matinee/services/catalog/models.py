"""The catalog service's tables."""
