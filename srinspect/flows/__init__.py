"""Flows over the core: the flow table and its decoder (``table``), per-direction link
load (``linkload``) and the flow events streamed by ``watch`` and Prometheus (``events``)."""
