"""Calibration of a judge: how far a judge other than the leaderboard's moves MixEval's numbers.

The reference suite's responses of two leaderboard models ship with the package
(`references`); `run.calibrate` (``python -m mix_eval.calibrate``) judges them with the
chosen judge and sets the scores beside the models' leaderboard rows; `record` is the
``calibration.json`` it writes, where it lives, and how the report reads it back;
`cost` is the estimate printed before any judge call.
"""
