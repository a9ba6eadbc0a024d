"""Certified universal approximation: constructive ReLU networks with a certified sup error (issue #13)."""
