"""User-facing errors.

A `MixEvalError` is a problem the user can fix (a flag, a file, a credential). The
command-line entry points print its message alone, without a traceback, and exit
with status 2; everything else is a bug and keeps its traceback.
"""


class MixEvalError(Exception):
    """An error with a message that says what is wrong and how to fix it."""


class DataError(MixEvalError):
    """The benchmark data cannot be found or is malformed."""


class ResumeError(MixEvalError):
    """Existing output cannot be resumed with the arguments given."""


class ModelError(MixEvalError):
    """The model cannot be found, loaded or configured."""


def first_line(e: BaseException) -> str:
    """An exception's first line of text (its class name when it has none): what a
    one-line error quotes of a library's long message."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
