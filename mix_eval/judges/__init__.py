"""LLM judges ("model parsers"): the messages they get, how verdicts are read, and the
backends that answer them: an API judge of any provider in `mix_eval.llm.providers`
(OpenAI and Azure OpenAI, any OpenAI-compatible server, Anthropic, Google), live or
through the Batch API, or a local Hugging Face model (`--judge_model_id`)."""
