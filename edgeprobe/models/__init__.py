"""Builds models from presets (random init, nothing downloaded) and reports the kernel path.

Imports torch: used by the probe worker only, never by the bundle or analysis side.
"""
