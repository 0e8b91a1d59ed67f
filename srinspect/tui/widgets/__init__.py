"""Widgets of the monitor: virtual tables, packet detail and hex, text panels, dialogs."""
