"""Prediction: the predictor (`predictor`), the model run over batches of rows (`outputs`), span
and BIO decoding (`decode`), decision thresholds chosen on dev (`thresholds`) and the dictionary
baseline (`baseline`)."""
