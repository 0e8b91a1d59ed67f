"""Flows over the core: what a packet gives a flow (``packet``), the flow table (``table``),
the frame decoder with its verdict cache and the flow monitor (``decoder``), per-direction
link load (``linkload``) and the flow events streamed by ``watch`` and Prometheus
(``events``)."""
