"""What every layer leans on, and which leans on nothing of mix_eval: durable and atomic
file writes and folder locks (`files`), the two-stage Ctrl-C (`interrupt`), and the
user's cache folder (`cache`)."""
