"""Scoring of MixEval responses: rule parsers (``rules``) and score aggregation (``aggregate``)."""
