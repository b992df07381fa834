"""Scoring: the n2c2 scorer (`n2c2`), SDoH events (`events`), BIO diagnostics (`bio`), bootstrap
intervals and paired comparisons (`bootstrap`) and a cell's metrics JSON (`cell`)."""
