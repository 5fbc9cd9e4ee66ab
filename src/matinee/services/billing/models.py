"""The billing service's tables."""
