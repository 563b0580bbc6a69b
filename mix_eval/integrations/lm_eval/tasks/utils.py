"""The functions the task configurations here name (``!function utils.<name>``): lm-eval
before 0.4.13 finds a function only in a file beside its YAML. They live in
`mix_eval.integrations.lm_eval`."""
from mix_eval.integrations.lm_eval import doc_to_text, load_docs, process_results, rule_parser_score

__all__ = ["doc_to_text", "load_docs", "process_results", "rule_parser_score"]
