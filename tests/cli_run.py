"""The command line run in-process (same entry point as `python -m certnn`, without
the interpreter start-up), for the CLI tests of every package."""

import io
from contextlib import redirect_stderr, redirect_stdout

from certnn.cli import main


def run_cli(*args) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``certnn ARGS``."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else int(e.code is not None)
    return code, out.getvalue(), err.getvalue()
