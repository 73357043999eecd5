"""This machine as AWS: moto, terraform runs, the local pipeline and the demo."""
