"""The loopback API server of the tests and benchmarks, one module per vendor protocol
(see `fakes.server`); ``fake_openai_server`` (tests/fake_openai_server.py) re-exports it
and runs it as a script."""
from .core import RecordedRequest, ReplyError, default_reply
from .faults import BLOCKED, BLOCKED_PROMPT, Fault
from .server import FakeOpenAIServer

__all__ = ["BLOCKED", "BLOCKED_PROMPT", "FakeOpenAIServer", "Fault", "RecordedRequest", "ReplyError",
           "default_reply"]
