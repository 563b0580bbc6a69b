"""Records on disk: the one JSONL reader (`jsonl`) and what a valid record is (`schema`)."""
