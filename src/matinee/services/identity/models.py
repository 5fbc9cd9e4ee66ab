"""The identity service's tables."""
