"""Widgets of the monitor: the tabs (panes), virtual tables, packet detail and hex, text
panels, the status bar, the filter line, dialogs."""
