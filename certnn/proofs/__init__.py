"""What certnn's results rest on: the assumption registry (``certnn audit``,
the named boundaries certnn assumes) and, beside it, the theorem registry
(``certnn prove``, the facts certnn proves)."""
