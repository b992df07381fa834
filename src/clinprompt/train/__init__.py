"""Training: the loop (`loop`), length-bucketed batches (`batching`) and several processes
(`distributed`)."""
