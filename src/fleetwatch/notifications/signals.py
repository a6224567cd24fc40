"""Keep each user's defaults in place: the "All the time" time slot and managed destinations."""
