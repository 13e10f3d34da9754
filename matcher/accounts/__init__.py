"""API keys: who may write."""
