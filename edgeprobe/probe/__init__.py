"""One measurement at a time: prefill, decode, memory, OOM, max-context search."""
