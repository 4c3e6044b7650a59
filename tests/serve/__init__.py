"""Tests of labkit.serve: the simulator behind the Kubernetes API, with the Python client, kubectl and the notebooks."""
