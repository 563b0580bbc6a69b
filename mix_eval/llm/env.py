"""``.env``: API keys and endpoints for judges and API models alike.

Both call `load_dotenv_once` before reading their variables from ``os.environ``, so
a key in ``.env`` reaches them the same way as one exported in the shell.
"""
from __future__ import annotations

from mix_eval.errors import MixEvalError

__all__ = ["load_dotenv_once"]


def load_dotenv_once() -> None:
    """Read `.env` from the working directory (or above) into the environment; variables
    already set win, so each is taken from `.env` at most once. Without python-dotenv,
    only the environment counts."""
    try:
        from dotenv import find_dotenv, load_dotenv
    except ImportError:
        return
    path = find_dotenv(usecwd=True)
    if path:
        try:
            load_dotenv(path, override=False)
        except UnicodeDecodeError as e:
            raise MixEvalError(f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8, one NAME=value "
                               "a line") from None
        except OSError as e:
            raise MixEvalError(f"{path}: cannot be read ({e.strerror or e}); it should be a text file of "
                               "NAME=value lines") from None

