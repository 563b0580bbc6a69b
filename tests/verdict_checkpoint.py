"""A tiny real Llama checkpoint whose greedy answer to any chat is one fixed text.

A local judge made from it gives real verdicts (``[[1.0]]``, ``[[B]]``), where the tiny
random checkpoints of `mix_eval.models.tiny` never do. Nothing is mocked: it
is a `LlamaForCausalLM` with hand-set weights, saved with ``save_pretrained`` beside the
suite's BPE tokenizer and chat template, and loaded by transformers like any model.

How the weights make the text: its one decoder layer writes nothing to the residual
stream (attention ``o_proj`` and MLP ``down_proj`` are zero), so the last hidden state
is the normed embedding of the current token, whatever came before it. The reply is
cut into pieces, each one token of the vocabulary (added when missing). Every token
that is not a piece shares the embedding e0; piece i has the embedding e_i (one-hot
vectors). ``lm_head`` maps e0 to piece 1, e_i to piece i+1 and the last piece's e_n to
eos; every other logit is 0. So whatever the prompt ends with, greedy decoding writes
the pieces in order and stops.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

HIDDEN = 32


def build_verdict_checkpoint(out_dir: str | Path, pieces: Sequence[str], *, hidden: int = HIDDEN,
                             heads: int = 4, kv_heads: int = 2) -> Path:
    """Write to ``out_dir`` a checkpoint that answers every chat with ``"".join(pieces)``.

    ``pieces`` are the reply's tokens, all different (a token has one successor), fewer
    than ``hidden`` of them. Returns ``out_dir``. vLLM's CPU attention needs a head size
    of 64: ``hidden=128, heads=2``.
    """
    import torch
    from tokenizers import AddedToken
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from mix_eval.models.tiny import build_tiny_checkpoint

    if len(set(pieces)) != len(pieces) or not 0 < len(pieces) < hidden:
        raise ValueError(f"need 1 to {hidden - 1} different pieces, got {list(pieces)!r}")
    out = build_tiny_checkpoint(out_dir)  # the suite's tokenizer and chat template (and a model replaced below)
    tok = AutoTokenizer.from_pretrained(out)
    tok.add_tokens([AddedToken(p, normalized=False, special=False) for p in pieces])
    ids = []
    for piece in pieces:
        encoded = tok(piece, add_special_tokens=False)["input_ids"]
        if len(encoded) != 1:
            raise ValueError(f"piece {piece!r} is not one token: {tok.convert_ids_to_tokens(encoded)}")
        ids.append(encoded[0])
    eos = tok.eos_token_id
    if len(set(ids)) != len(ids) or eos in ids:
        raise ValueError(f"pieces {list(pieces)!r} do not map to distinct tokens")
    reply = tok.decode(ids + [eos], skip_special_tokens=True)
    if reply != "".join(pieces):
        raise ValueError(f"the tokens of {''.join(pieces)!r} decode to {reply!r}")
    tok.save_pretrained(out)

    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=1,
        num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=4096,
        bos_token_id=tok.bos_token_id, eos_token_id=eos, pad_token_id=None, tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed = model.model.embed_tokens.weight
        embed.zero_()
        embed[:, 0] = 1.0  # every token: state e0
        head = model.lm_head.weight
        head.zero_()
        for state, token in enumerate(ids, start=1):
            embed[token].zero_()
            embed[token, state] = 1.0
        for state, successor in enumerate(ids + [eos]):  # e0 -> piece 1, e_i -> piece i+1, e_n -> eos
            head[successor, state] = 4.0
    model.generation_config.do_sample = False
    model.generation_config.eos_token_id = eos
    model.save_pretrained(out)
    (out / "README.md").write_text(
        f"A tiny Llama checkpoint with hand-set weights (tests/verdict_checkpoint.py): it answers {reply!r}.\n")
    return out
