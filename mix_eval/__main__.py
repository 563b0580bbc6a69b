"""`python -m mix_eval` runs `mix_eval.evaluate`."""
import sys

from mix_eval.evaluate import main

sys.exit(main())
