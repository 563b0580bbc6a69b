"""Build a tiny random Llama-style checkpoint, for trying the suite without a GPU
(``python -m mix_eval.utils.tiny_checkpoint /tmp/tiny-chat`` from the command line).

The checkpoint is a real transformers model (a few hundred thousand parameters) with
a byte-level BPE tokenizer trained on the benchmark's own protocol text and a chat
template, so the whole loading and generation path runs as it would for a real
model, in seconds on a laptop. Its answers are random text.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


# A thinking model's template, as Qwen3's and DeepSeek-R1's behave: the assistant turn opens
# `<think>` (the model's text begins inside its thinking); with ``enable_thinking`` false it
# writes an empty thinking block instead, so the model answers at once.
THINKING_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n"
    "{% else %}<think>\n{% endif %}{% endif %}"
)
THINKING_TOKENS = ("<think>", "</think>")  # added as ordinary tokens: decoding keeps them


def _training_text() -> list[str]:
    from mix_eval.prompts import evaluation_prompts as ep

    text = [ep.FIVE_SHOT_PREFIX_FREEFORM, ep.FIVE_SHOT_PREFIX_MULTIPLECHOICE]
    text += [m["content"] for m in ep.JUDGE_MESSAGES_FREEFORM + ep.JUDGE_MESSAGES_MULTICHOICE]
    return [line for block in text for line in block.splitlines() if line.strip()]


def build_tiny_checkpoint(
    out_dir: str | Path,
    *,
    vocab_size: int = 1024,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    max_position_embeddings: int = 4096,
    seed: int = 0,
    chat_template: Optional[str] = CHAT_TEMPLATE,
    pad_token: Optional[str] = None,
    thinking: bool = False,
) -> Path:
    """Write a tiny random LlamaForCausalLM and its tokenizer to ``out_dir``.

    ``pad_token=None`` leaves the tokenizer without a pad token, as many real
    checkpoints are (the suite then pads with eos). vLLM's CPU attention needs a head
    size of 64: ``hidden_size=128, num_attention_heads=2``. ``thinking``: a model that
    thinks, as Qwen3 and DeepSeek-R1 are made: `THINKING_CHAT_TEMPLATE` (which honours
    ``enable_thinking``) and the tokens `THINKING_TOKENS`.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specials = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    if pad_token:
        specials.append(pad_token)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_training_text(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token=pad_token,
        model_max_length=max_position_embeddings,
    )
    if thinking:
        fast.add_tokens(list(THINKING_TOKENS))
        chat_template = THINKING_CHAT_TEMPLATE
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(out)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.do_sample = False
    model.save_pretrained(out)
    (out / "README.md").write_text(
        "A tiny random Llama-style checkpoint made by mix_eval.utils.tiny_checkpoint "
        "for smoke tests; its outputs are meaningless.\n"
    )
    return out
