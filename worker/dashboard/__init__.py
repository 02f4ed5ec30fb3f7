"""The dashboard: server-rendered pages and a JSON API over one set of reads and actions."""
