"""After the match: platforms' responses, consented introductions and the engagements they become."""
