"""Releases: the Lambda engine, deploy, rollback, prune, history and the deploy lock."""
