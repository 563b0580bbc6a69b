"""The answers explorer as one self-contained page: inline CSS, one inline script, and
the data (`mix_eval.reporting.samples`) as one embedded JSON blob. The stylesheet, the
page's body and the script are package data in ``explorer/`` (plain CSS, HTML and
JavaScript that tools can read), inlined here.

The page opens from ``file://`` and fetches nothing: a Content-Security-Policy allows
no source at all but the inline style and the one script, by its hash, so neither a
value from the files nor anything else can load or run code. Values are escaped twice
over: in the blob, ``<``, ``>`` and ``&`` are JSON escapes (no text can end the script
element that holds it), and the script shows every value as text (``textContent``,
never markup). Rows are drawn only where the list is scrolled to, so 10,000 items
filter in milliseconds.
"""
from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from mix_eval.folders import REPORT_HTML_FILE, SAMPLES_FILE, SCORE_FILE

TITLE = "MixEval answers explorer"
DATA_ID = "explorer-data"

ASSETS = "explorer"  # beside this module: the page's stylesheet, body and script, as package data


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return (Path(__file__).with_name(ASSETS) / name).read_text(encoding="utf-8")


def page_parts() -> tuple[str, str, str]:
    """The page's CSS, body and script (the script names the score file it explains)."""
    return (_asset("explorer.css"), _asset("explorer_body.html"),
            _asset("explorer.js").replace("__SCORE_FILE__", SCORE_FILE))


def embed_json(data: Any) -> str:
    """JSON that cannot end the ``<script>`` element holding it: ``<``, ``>`` and ``&``
    (and the two line separators JavaScript once refused) written as JSON escapes."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a file: a JSON escape too (\\udxxx)
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def render(data: dict[str, Any]) -> str:
    """The page of `mix_eval.reporting.samples.explorer_data`'s data."""
    css, body, script = page_parts()
    assert "</script" not in script.lower() and "<!--" not in script
    policy = (f"default-src 'none'; style-src 'unsafe-inline'; script-src '{_script_hash(script)}'; "
              "base-uri 'none'; form-action 'none'")
    return "".join([
        "<!DOCTYPE html>\n",
        '<html lang="en"><head><meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{TITLE}</title>\n",
        f"<style>{css}</style></head><body>",
        body.replace("{title}", TITLE).replace("{report}", REPORT_HTML_FILE).replace("{samples}", SAMPLES_FILE),
        f'<script type="application/json" id="{DATA_ID}">{embed_json(data)}</script>\n',
        f"<script>{script}</script>\n",
        "</body></html>\n",
    ])
