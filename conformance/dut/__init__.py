"""DUT adapters: ``linux`` (the embedded DUT in network namespaces) and ``ports`` (a foreign
device reached through real interfaces, never configured by the suite)."""
