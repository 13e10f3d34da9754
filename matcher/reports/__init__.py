"""Reports for policy staff, computed from the database on each request."""
