"""Tables as people have them (CSV in any encoding and separator, XLSX, ODS), read robustly, with
the cleaning rules and the dry-run report every import of Pluriel shares: the historical grants,
organisations and reference lists (reporting.imports), the accounting system's confirmation files
(finance.confirmations) and the observatory's indicators (contracts)."""
