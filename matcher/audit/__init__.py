"""Who changed what on a platform, its keys, its webhooks and its tier, and when."""
