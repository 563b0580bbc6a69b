"""One module per vendor SDK behind the `Provider` protocol (`base`): `openai` (also
Azure OpenAI and any OpenAI-compatible server), `anthropic`, `gemini`, `reka`. Each
imports its SDK only when a client first uses it."""
