"""Helpers the test suites share: a static server and a real-browser playback harness."""
