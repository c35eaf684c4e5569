"""File imports: organisations, reference lists (QPV, communes) and historical grants (SCDL)."""
