"""Hydra configs of ``trainkit train`` (YAML, shipped in the wheel).

``optimizer``, ``scheduler`` and ``loss`` options have no YAML files: one node per
registered name is generated from the plugin registries (``trainkit.config``).
"""
