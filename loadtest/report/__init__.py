"""Human-readable reports: PNG plots and one self-contained HTML page per run or sweep."""
