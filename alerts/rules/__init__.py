"""Rules: the query language, the compiled matcher, the plain evaluator, archive search."""
