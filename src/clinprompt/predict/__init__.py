"""Prediction: the predictor (`predictor`), span and BIO decoding (`decode`), decision thresholds
chosen on dev (`thresholds`) and the dictionary baseline (`baseline`)."""
