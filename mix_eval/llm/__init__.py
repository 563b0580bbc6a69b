"""The one layer that talks to chat APIs, for the LLM judge and API models alike.

Modules: `client` (`ChatClient`: pacing, the probe, retries, fail-fast, redaction),
`batch` (`run_pool`), `limiter` (`AdaptiveRateLimiter`, `parse_retry_after`), `config`
(`ClientConfig`), `results` (`ChatResult`, `Usage`, `ClientStats`), `errors`, `env`
(`.env` and API keys) and `providers` (one module per SDK behind the `Provider`
protocol). Nothing is imported here, so importing the package loads no SDK.
"""
