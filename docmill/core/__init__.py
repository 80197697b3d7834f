"""The pipeline's logic: free of any transport and of any concrete plugin."""
