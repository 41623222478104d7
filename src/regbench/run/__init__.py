"""Many cells -> stored results: where cells run (this process, joblib workers, GPUs, a Dask
cluster) and the loop that claims, runs and stores them."""
