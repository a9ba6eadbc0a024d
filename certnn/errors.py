"""Exception types. Every error a user can trigger is a ``CertnnError``; the CLI
turns it into a one-line message and a non-zero exit code."""


class CertnnError(Exception):
    """Base class for errors caused by the user's input, model or files."""

    exit_code = 2


class ShapeError(CertnnError, ValueError):
    """An op or layer got inputs of the wrong shape (names op, shapes, call)."""


class MissingRuleError(CertnnError, NotImplementedError):
    """An op has no rule of the requested kind (e.g. no ``interval`` rule)."""


class UnsupportedOp(MissingRuleError):
    """An interpreter met an op lacking the rule it needs; never silently skipped."""

    def __init__(self, op: str, rule: str, detail: str = ""):
        self.op, self.rule = op, rule
        super().__init__(f"op '{op}' has no '{rule}' rule{': ' + detail if detail else ''}")


class GraphError(CertnnError):
    """A graph is malformed: unknown op, cycle, dangling input, bad attributes."""


class DataError(CertnnError):
    """A data file is missing, truncated, corrupt or has the wrong format."""


class CheckpointError(CertnnError):
    """A checkpoint is missing, truncated, tampered with or of an unknown version."""


class TrainingError(CertnnError):
    """Training cannot continue (e.g. the loss became NaN or infinite)."""
