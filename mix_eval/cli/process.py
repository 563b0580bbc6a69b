"""What every command-line entry point does around its work.

Logging set-up, the two-stage Ctrl-C, and the one rule for errors: a problem the user
can fix (`MixEvalError`, a full disk) is one line on stderr and in
``<output dir>/error.log``, exit status 2; an interruption says how to resume, exit
status 130; anything else is a bug and keeps its traceback (and is logged too).
"""
from __future__ import annotations

import atexit
import errno
import logging
import os
import signal
import sys
from typing import Callable, NoReturn, Optional

from mix_eval.errors import MixEvalError
from mix_eval.folders import append_error_log
from mix_eval.system.interrupt import STOP, graceful_interrupts

# Write errors that mean "no room": disk full, file too large, quota exceeded.
DISK_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def log_error(message: str, output_dir: Optional[str]) -> None:
    """Append a run's error to `<output_dir>/error.log`, as the reference does (None: a
    command that must write nowhere, such as checking a bundle)."""
    if output_dir is None:
        return
    try:
        append_error_log(output_dir, message)
    except OSError:
        pass


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if verbose else "mix_eval: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        for noisy in ("transformers", "accelerate", "datasets", "urllib3", "httpx", "httpcore",
                      "httpx2", "httpcore2", "openai", "anthropic", "google_genai"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        if "transformers" in sys.modules:
            from mix_eval.models.base import quiet_transformers

            quiet_transformers()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run_command(work: Callable[[], object], *, log_dir: Optional[str], context: str, saved: str,
                verbose: Optional[bool] = None) -> int:
    """Run a command's work; turn user-fixable failures into one line and an exit status.

    ``context`` is appended to logged errors; ``saved`` says what an interruption keeps;
    ``verbose``, when given, sets up logging first (`setup_logging`).
    """
    if verbose is not None:
        setup_logging(verbose)
    try:
        with graceful_interrupts():
            work()
    except MixEvalError as e:
        _report(f"Error: {e}", log_dir, context)
        return 2
    except KeyboardInterrupt:
        print(f"\nmix_eval: interrupted. {saved}; rerun the same command to resume.", file=sys.stderr)
        return 130
    except OSError as e:
        if e.errno not in DISK_ERRORS:
            log_error(f"Error: {type(e).__name__}: {e} ({context})", log_dir)
            raise
        _report(f"Error: cannot write {e.filename or 'an output file'}: {e.strerror}. Everything written "
                "before is kept; free some space (or raise the file-size limit) and rerun the same command "
                "to resume.", log_dir, context)
        return 2
    except Exception as e:
        log_error(f"Error: {type(e).__name__}: {e} ({context})", log_dir)
        raise
    return 0


def exit_process(status: int) -> NoReturn:
    """End a command-line process with ``status``.

    The command's work is over and saved. The exit handlers of the libraries run (torch's
    take a while), then the process ends without tearing down its modules: Python stops
    handling signals before that teardown, so a late Ctrl-C there would kill the process
    by signal. A Ctrl-C that lands while the exit handlers run ends the process at once,
    with the same status and no traceback.
    """
    def exit_now(signum, frame) -> None:  # noqa: ANN001 - signal handler signature
        _flush_std_streams()
        os._exit(status)

    signal.signal(signal.SIGINT, exit_now)
    try:
        atexit._run_exitfuncs()  # what the interpreter would run at exit (logging's flush, torch's)
    finally:
        _flush_std_streams()
        os._exit(status)


def run_process(main: Callable[[], int]) -> NoReturn:
    """The body of a ``python -m`` entry point: ``main()``, then `exit_process` with its status.

    Between the end of the command's work (its two-stage Ctrl-C handler is gone) and the
    exit, a Ctrl-C ends the process at once with status 130 instead of a traceback and a
    death by signal; before the work starts, Ctrl-C stops the process as Python does.
    """
    def after_work(signum, frame) -> None:  # noqa: ANN001 - signal handler signature
        if not STOP.finished:
            raise KeyboardInterrupt()
        _flush_std_streams()
        os._exit(130)

    signal.signal(signal.SIGINT, after_work)
    exit_process(main())


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _report(message: str, log_dir: Optional[str], context: str) -> None:
    log_error(f"{message} ({context})", log_dir)
    print(f"mix_eval: {message}", file=sys.stderr)
