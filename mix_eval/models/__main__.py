"""`python -m mix_eval.models`: list every registered model with its kind and model id."""
from __future__ import annotations

import sys

from mix_eval.models.catalog import SPECS


def main() -> int:
    rows = [(s.name, s.kind, s.model_id) for s in SPECS.values()]
    width = max(len(r[0]) for r in rows)
    kind_width = max(len(r[1]) for r in rows)
    for name, kind, model_id in sorted(rows):
        print(f"{name:<{width}}  {kind:<{kind_width}}  {model_id}")
    print(f"\n{len(rows)} models. Local checkpoints: --model_name local_chat|local_base --model_path PATH.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
