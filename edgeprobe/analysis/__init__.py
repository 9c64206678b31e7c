"""Reading results: summaries, comparisons, tables (never imports torch)."""
