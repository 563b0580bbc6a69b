"""Small utilities and the reference's utility entry points (check_eval_complete)."""
