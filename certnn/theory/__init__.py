"""Learning theory: differential privacy (DP-SGD, accounting, audit) and algorithmic stability (issue #15)."""
