"""``--backend hf``: transformers `generate` on weights loaded in this process (the reference's way).

A batch is left-padded to its longest prompt and truncated to the model's input length,
generated in one `generate` call, and only the new tokens are decoded
(`mix_eval.models.engine.generations`, as the vLLM engine does).
"""
from __future__ import annotations

from typing import Any

from mix_eval.errors import ModelError
from mix_eval.models.engine import Generation, generations, stop_token_ids
from mix_eval.models.loading import max_positions, torch_module


class TransformersEngine:
    """The model's transformers weights, generating a batch at a time."""

    def __init__(self, weights: Any):
        self.weights = weights
        self.max_positions = max_positions(getattr(weights, "config", None))

    @classmethod
    def check_available(cls) -> None:
        """transformers and torch are requirements of mix_eval itself."""

    @classmethod
    def start(cls, model: Any) -> "TransformersEngine":
        return cls(model.build_model())  # the model class's own loading (a reference-style class may override it)

    def batch_size(self, requested: int) -> int:
        return requested

    def answer(self, model: Any, texts: list[str]) -> list[Generation]:
        torch = torch_module()
        tok = model.tokenizer
        tok.padding_side = model.padding_side
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        if tok.pad_token is None:
            raise ModelError(f"the tokenizer of {model.model_name!r} has neither a pad nor an eos token")
        enc = tok(
            texts,
            return_tensors="pt",
            padding="longest",
            max_length=model.max_input_length_closeend,
            truncation=True,
        ).to(self.weights.device)
        gen_kwargs = dict(model.gen_kwargs)
        gen_kwargs.setdefault("pad_token_id", tok.pad_token_id)
        with torch.no_grad():
            out = self.weights.generate(
                input_ids=enc["input_ids"],
                attention_mask=enc["attention_mask"],
                max_new_tokens=model.closeended_max_new_tokens,
                **gen_kwargs,
            )
        new_tokens = out[:, enc["input_ids"].shape[1]:].tolist()
        stops = stop_token_ids(getattr(self.weights, "generation_config", None), gen_kwargs, tok.eos_token_id)
        return generations(tok, enc["attention_mask"].sum(dim=1).tolist(), new_tokens, stops)

    def close(self) -> None:
        self.weights = None
