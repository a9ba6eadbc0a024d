"""How every ``... check`` command reports an independent checker's result, so
they agree on exit codes and wording: exit 2 with one ``error:`` line when the
artifact cannot be read, otherwise one ``rejected:`` line per reason, a final
``accepted``/``REJECTED`` line, exit 0 when accepted and 1 when rejected."""

from __future__ import annotations

import json
import sys
from typing import Callable, NoReturn, TypeVar

import click

from ..errors import CertnnError

T = TypeVar("T")


def load_or_exit_2(load: Callable[[], T]) -> T:
    """``load()``, or exit 2 with one error line when the input cannot be read."""
    try:
        return load()
    except CertnnError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)


def report_check(res, as_json: bool, summary: str, after: str | None = None) -> NoReturn:
    """Print ``res`` (it has ``ok``, ``reasons`` and ``to_dict()``) as one JSON
    object or as its reasons and ``accepted|REJECTED: summary`` (then ``after``
    when accepted), and exit 0 if accepted, 1 if rejected."""
    if as_json:
        click.echo(json.dumps(res.to_dict()))
    else:
        for why in res.reasons:
            click.echo(f"rejected: {why}")
        click.echo(f"{'accepted' if res.ok else 'REJECTED'}: {summary}")
        if res.ok and after:
            click.echo(after)
    sys.exit(0 if res.ok else 1)
