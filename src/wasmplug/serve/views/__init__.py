"""The serve endpoints, one module per family: `api` (deploys), `invoke` (calls), `ops` (metrics,
health), `playground` (the page and its run API)."""
