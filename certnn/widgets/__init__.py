"""Self-contained HTML views of certnn's artifacts, tested in a real browser (issue #18)."""
