"""LLM judges ("model parsers"): the messages they get, how verdicts are read, and
the backends that answer them (an OpenAI-compatible API or a local HF model)."""
