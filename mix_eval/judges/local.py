"""A local Hugging Face model as the judge (`--judge_model_id`).

The same judge messages as the API judge, rendered with the model's chat template,
generated in length-sorted batches of `--batch_size_judge` (1024 new tokens) by the
engine of the model under evaluation (``--backend``, `mix_eval.models.engine`):
transformers on the GPUs when there are any (capped by `--max_gpu_memory_judge`), else
on the CPU; or vLLM, in chunks of at least 512.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from mix_eval.batching import length_sorted_batches
from mix_eval.engines import DEFAULT_ENGINE
from mix_eval.judges.judge import OK, JudgedCallback
from mix_eval.models.base import ChatModel
from mix_eval.settings import GenerationSettings, ModelSettings
from mix_eval.system.interrupt import STOP

logger = logging.getLogger(__name__)

JUDGE_MAX_NEW_TOKENS = 1024


class LocalJudge(ChatModel):
    """A chat model whose inputs are whole message lists."""

    def __init__(self, model_id: str, *, batch_size: int = 1, max_gpu_memory: Optional[str] = None,
                 dtype: Optional[str] = None, max_new_tokens: int = JUDGE_MAX_NEW_TOKENS,
                 backend: str = DEFAULT_ENGINE, revision: Optional[str] = None):
        super().__init__(ModelSettings(model_id, generation=GenerationSettings(
            max_gpu_memory=max_gpu_memory, dtype=dtype, backend=backend)))
        self.name = model_id
        self.mode = "live"
        self.request = None  # no request style: the report records the model and its revision
        self.model_name = model_id
        self.revision = revision
        self.trust_remote_code = True
        self.use_fast_tokenizer = True
        self.attn_implementation = "flash_attention_2"
        self.closeended_max_new_tokens = max_new_tokens
        self.batch_size = max(1, int(batch_size or 1))
        self.load(sets_pad_token_to_eos=True)

    def render(self, messages: Any) -> str:  # type: ignore[override]
        return self.apply_chat_template(messages)

    def complete(self, requests: list[tuple[str, list[dict[str, str]]]],
                 on_result: JudgedCallback, *, round_no: int = 1) -> None:
        conversations = [messages for _, messages in requests]
        batch_size = self.batch_size_for(self.batch_size)  # the engine may take more at once (vLLM)
        for batch in length_sorted_batches(self.input_lengths(conversations), batch_size):
            if STOP.requested:  # Ctrl-C: stop between batches; the runner saves what is done
                return
            # the whole text, as the judge wrote it (an evaluated model's `respond` splits off thinking)
            replies = [g.text for g in self.generate([self.render(conversations[i]) for i in batch])]
            for i, reply in zip(batch, replies):
                on_result(requests[i][0], OK, reply)
