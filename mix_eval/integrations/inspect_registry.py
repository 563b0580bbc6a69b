"""The ``inspect_ai`` entry point of the package: importing it registers the Inspect
tasks ``mix_eval/mixeval`` and ``mix_eval/mixeval_hard`` (`mix_eval.integrations.inspect_task`)."""
from mix_eval.integrations.inspect_task import mixeval, mixeval_hard

__all__ = ["mixeval", "mixeval_hard"]
