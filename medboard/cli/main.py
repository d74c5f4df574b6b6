"""The `medboard` command.

Each sub-command lives in its own module under `medboard.cli` and registers itself through
`register(app)`. Heavy imports (autogen, numpy, pydicom) happen inside the commands, so
`medboard --help` stays fast. Every `MedboardError` becomes one line on stderr and its exit code
(2 bad input, 3 model endpoint unusable); no traceback reaches the user. That line is
`medboard.cli.terminal.error_line`: control/bidi characters shown as escapes, URLs redacted.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from medboard.cli.terminal import error_line
from medboard.errors import MedboardError

app = typer.Typer(
    name="medboard",
    help="Cross-checked, cited case summaries from FHIR records and medical images. Not a diagnostic device.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress at INFO (no patient data)."),
) -> None:
    """medboard: cross-checked, cited case summaries. Not a diagnostic device."""
    if verbose:
        logging.getLogger("medboard").setLevel(logging.INFO)


# Sub-command modules, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "board",
    "record",
    "reconcile",
    "image",
    "trends",
    "recist",
    "model",
    "verify",
    "schema",
    "serve",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"medboard.cli.{_name}").register(app)


#: click's base of usage errors (typer vendors click, so it is found through a public subclass).
_CLICK_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn medboard errors into one line and an exit code.

    click runs in non-standalone mode so that a usage error (an unknown option, a missing
    argument, a bad value) is one line on stderr like every other bad input, instead of click's
    multi-line panel, which also echoed raw command-line text (control and bidi characters).
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = app(args=argv, prog_name="medboard", standalone_mode=False)
    except _CLICK_ERROR as error:  # usage errors: exit 2, one line, with where to look for help
        context = getattr(error, "ctx", None)
        command = getattr(context, "command_path", None) or "medboard"
        message = error.format_message()  # type: ignore[attr-defined]
        if not message.strip():  # `medboard` / `medboard image` alone: the help was the answer
            return int(getattr(error, "exit_code", 2))
        typer.echo(error_line(f"{message} (see '{command} --help')"), err=True)
        return int(getattr(error, "exit_code", 2))
    except typer.Abort:  # click's translation of Ctrl-C outside a run
        typer.echo("medboard: interrupted", err=True)
        return 130
    except MedboardError as error:
        typer.echo(error_line(error), err=True)  # one line: neutralized, URLs redacted, bounded
        return error.exit_code
    except KeyboardInterrupt:
        typer.echo("medboard: interrupted", err=True)
        return 130
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    # Non-standalone click returns a `typer.Exit(code)`'s code, else the command's return value.
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script entry point. An interrupted run (130 SIGINT, 143 SIGTERM) ends at once
    instead of joining busy worker threads: see `medboard.cli.interrupts.exit_now`."""
    code = main()
    if code in (130, 143):
        from medboard.cli.interrupts import exit_now

        exit_now(code)
    sys.exit(code)
