"""Researchers' verdicts on individual matches: a quality signal that grows the evaluation set."""
