"""Build and deploy tooling for the Lambda dependencies layer.

Never imports cdktf, the provider bindings, `stacks/` or `infra_constructs/`: their import
alone costs seconds and hundreds of MB, and the scripts run on every deploy.
"""
