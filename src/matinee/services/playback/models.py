"""The playback service's tables."""
