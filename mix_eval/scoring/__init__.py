"""Scoring of MixEval responses, apart from any command line.

``inputs`` finds a run's model folders and reads and checks their files; ``run``
judges them and writes the judged files, ``score.json`` and ``judge_report.json``;
``rules`` are the rule parsers, ``aggregate`` the reference's score structures, and
``table`` the printed table.
"""
