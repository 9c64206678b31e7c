"""Screens over the dashboard: start a run, browse bundles, help, confirm."""
