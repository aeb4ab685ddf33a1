"""Archive time stamps (PAdES B-LTA) of final documents: a long-running workflow that stamps and
refreshes them before the time-stamping authority's certificate expires."""
