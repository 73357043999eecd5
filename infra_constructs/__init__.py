"""Terraform building blocks for the layer migration, one construct a module.

Named `infra_constructs`, not `constructs`: a top-level `constructs` package would shadow
the `constructs` library that cdktf itself imports.
"""
