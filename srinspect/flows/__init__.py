"""Flows over the core: the flow table (``table``) fed by its decoder and monitor
(``decoder``), per-direction link load (``linkload``) and the flow events streamed by
``watch`` and Prometheus (``events``)."""
