"""A loopback OpenAI-compatible chat server for tests and benchmarks (and Azure,
Anthropic, Gemini, Reka and the Batch API): `FakeOpenAIServer` and its `Fault`s, from the
package tests/fakes (one module per vendor protocol; knobs and records in
`fakes.server`). Tests and bench scripts import them from here.

Run as a script (``python tests/fake_openai_server.py --rate 50 --latency 0.05``) it
prints its base URL on the first line of stdout, serves until interrupted or sent
SIGTERM, then prints its counts (``/_fake/stats``) as JSON on stderr.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import List, Optional

from fakes import BLOCKED, BLOCKED_PROMPT, FakeOpenAIServer, Fault, RecordedRequest, ReplyError, default_reply

__all__ = ["BLOCKED", "BLOCKED_PROMPT", "FakeOpenAIServer", "Fault", "RecordedRequest", "ReplyError",
           "default_reply", "main"]


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--rate", type=float, default=None, help="requests/s allowed (token bucket)")
    p.add_argument("--burst", type=float, default=None, help="bucket size (default max(1, rate))")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--api-key", default=None, help="accept only this bearer key")
    p.add_argument("--models", default=None, help="comma-separated known models")
    p.add_argument("--reply", default=None, help="answer every chat request with this text")
    args = p.parse_args(argv)
    reply = (lambda request, text=args.reply: text) if args.reply is not None else None
    server = FakeOpenAIServer(reply=reply, latency=args.latency, rate_limit=args.rate, burst=args.burst,
                              api_key=args.api_key, host=args.host, port=args.port,
                              models=args.models.split(",") if args.models else None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    print(server.base_url, flush=True)
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(json.dumps(server.stats()), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
