"""PilotMatch's HTTP API (FastAPI) and CLI. Translates HTTP to ``matcher`` calls and back, nothing more."""
