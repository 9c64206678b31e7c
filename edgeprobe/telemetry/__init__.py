"""Headless telemetry: platform facts and sensor samplers (no UI, no torch)."""
