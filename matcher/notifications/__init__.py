"""Match notifications: an inbox per platform and signed webhooks, fed by an outbox in the database."""
