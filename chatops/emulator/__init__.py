"""The embedded AWS: a moto server that chatops runs and patches itself."""
