"""`python -m mix_eval` runs `mix_eval.evaluate`."""
from mix_eval.evaluate import main
from mix_eval.cli.process import exit_process

exit_process(main())
