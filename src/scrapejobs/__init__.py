"""scrapejobs: run scrape jobs that fail and recover well."""

__version__ = "0.1.0"
