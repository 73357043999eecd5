"""What the scripts know of the infrastructure: synthesized output and terraform plans."""
