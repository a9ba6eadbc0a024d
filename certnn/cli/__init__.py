"""The ``certnn`` command line: one module per command group, all registered
here. Every user error (a ``CertnnError``) prints one ``error: ...`` line on
stderr and exits with status 1; usage errors exit with 2."""

from __future__ import annotations

import signal
import sys
import threading

import click

from .. import allocator
from ..errors import CertnnError
from . import (approx, audit, bugzoo, check, dp, floats, gen, graph, lyapunov, main_job, pinn, prove, reach, rl, train,
               verify, vnncomp, widgets, zoo)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="certnn")
def cli():
    """certnn: one precise semantics for a network, shared by execution, training and verification."""


# one line per command group (applications add theirs here)
COMMANDS = [
    train.train,
    train.show,
    graph.graph_cmd,
    graph.ops_cmd,
    floats.float_group,
    verify.bounds_cmd,
    verify.verify_group,
    check.check_cmd,
    vnncomp.vnncomp_group,
    audit.audit_cmd,
    prove.prove_cmd,
    main_job.main_job_cmd,
    reach.reach_group,
    lyapunov.lyapunov_group,
    widgets.report_cmd,
    widgets.view_cmd,
    pinn.pinn_group,
    approx.approx_cmd,
    rl.rl_group,
    zoo.zoo_group,
    gen.gen_group,
    dp.dp_group,
    bugzoo.bugzoo_group,
]
for _command in COMMANDS:
    cli.add_command(_command)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: worker processes are stopped, files are written
    atomically or not at all."""


def _on_sigterm(signum, frame):
    raise Terminated


def main(argv=None):
    # without this, `kill` of a suite leaves its worker processes running orphaned;
    # the previous handler is restored when main returns (it is also called in-process)
    old = signal.signal(signal.SIGTERM, _on_sigterm) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        _main(argv)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _main(argv):
    allocator.tune()
    try:
        cli.main(args=argv, prog_name="certnn", standalone_mode=False)
    except (Terminated, click.exceptions.Abort) as e:    # click turns KeyboardInterrupt into Abort
        term = isinstance(e, Terminated) or isinstance(e.__cause__, Terminated)
        click.echo("terminated" if term else "aborted", err=True)
        sys.exit(143 if term else 130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except CertnnError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
