"""A model as data: everything that makes one registered model differ from another."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional

# Max new tokens of the close-ended splits, by kind (reference values).
DEFAULT_MAX_NEW_TOKENS = {"chat": 512, "base": 399, "api": 1536}
# Upper bound of the input length: min(model max positions, this) - max new tokens.
MAX_INPUT_LENGTH = 12000
# `model_id` of models whose weights come from --model_path.
LOCAL_PATH = "LOCAL_PATH"

# Token ids in `gen_kwargs` depend on the tokenizer, so specs name them and
# `resolve_gen_kwargs` turns the names into ids at load time: under a key ending in
# ``_token_id`` (also inside a list), `EOS` means the tokenizer's eos id and any other
# string is a token looked up in the vocabulary (`EOT` is Llama 3's end of turn).
EOS = "<eos_id>"
EOT = "<|eot_id|>"


@dataclass(frozen=True)
class ModelSpec:
    """The declarative description of one `--model_name`.

    kind: ``chat`` (chat template), ``base`` (five-shot raw text) or ``api``.
    model_id: Hugging Face repo id, provider model id, or `LOCAL_PATH`.
    dtype: ``auto`` (the checkpoint's own) or a torch dtype name, used on GPU; on
    CPU models load in float32 unless the user passes ``--dtype``.
    chat_template: a custom single-turn template with ``{{USER}}`` for the user
    message, used instead of the tokenizer's chat template.
    """

    name: str
    kind: str
    model_id: str
    dtype: str = "auto"
    attn_implementation: Optional[str] = None
    trust_remote_code: bool = False
    # the reference defaulted to slow tokenizers; transformers 5 removed most of them
    use_fast_tokenizer: bool = True
    gen_kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_new_tokens: Optional[int] = None
    max_input_length_closeend: Optional[int] = None
    sets_pad_token_to_eos: bool = False
    system_message: Optional[str] = None
    chat_template: Optional[str] = None
    # API models
    env_keys: tuple[str, ...] = ()
    base_url: Optional[str] = None
    sdk: tuple[str, ...] = ()
    fix_interval_second: float = 0
    description: str = ""
    # how the reference loaded the model, where it differs from the plain path
    notes: str = ""
    # the model's tied weights are tied again after loading (OLMo)
    tie_weights_after_load: bool = False

    def __post_init__(self) -> None:
        if self.kind not in DEFAULT_MAX_NEW_TOKENS:
            raise ValueError(f"{self.name}: kind must be chat, base or api, not {self.kind!r}")

    @property
    def closeended_max_new_tokens(self) -> int:
        return self.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[self.kind]

    @property
    def is_local(self) -> bool:
        return self.model_id == LOCAL_PATH

    def with_(self, **changes: Any) -> "ModelSpec":
        """A copy with some fields changed (families share a spec and vary it)."""
        return replace(self, **changes)


def resolve_gen_kwargs(
    gen_kwargs: Mapping[str, Any],
    eos_token_id: Optional[int],
    token_to_id: Callable[[str], Optional[int]],
) -> dict[str, Any]:
    """`gen_kwargs` with the token names of ``*_token_id`` keys replaced by ids.

    `EOS` becomes ``eos_token_id``; another string becomes ``token_to_id(string)``
    (for example ``tokenizer.get_vocab().get``). Numbers and None stay as they are.
    """

    def resolve(key: str, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [resolve(key, v) for v in value]
        if not isinstance(value, str):
            return value
        token_id = eos_token_id if value == EOS else token_to_id(value)
        if token_id is None:
            what = "the tokenizer has no eos token" if value == EOS else f"unknown token {value!r}"
            raise ValueError(f"gen_kwargs {key}: {what}")
        return token_id

    return {
        key: resolve(key, value) if key.endswith("_token_id") else value
        for key, value in gen_kwargs.items()
    }
