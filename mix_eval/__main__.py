"""`python -m mix_eval` runs `mix_eval.evaluate`."""
from mix_eval.evaluate import main
from mix_eval.cli.process import run_process

run_process(main)
