"""Verification on top of the bounds: certificates and their independent checker."""
