"""The reference's utility entry points, as thin command-line shells:
``python -m mix_eval.utils.check_eval_complete`` and ``python -m mix_eval.utils.tiny_checkpoint``."""
