"""`discover`: read a running Lambda estate through the AWS APIs and describe it as data.

reads.py reads (facts.py holds what was read, as plain frozen records), callers.py finds
who invokes each function from outside (EventBridge, API Gateway, function URLs),
express.py turns the facts into the typed environment model and names every gap, and
write.py writes the environment file atomically (nothing when there is a gap).
"""
