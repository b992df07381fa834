"""Scoring: gold and predicted documents paired (`pairs`), the n2c2 scorer (`n2c2`), SDoH events
(`events`), bootstrap intervals and paired comparisons (`bootstrap`) and a cell's metrics JSON
(`cell`)."""
