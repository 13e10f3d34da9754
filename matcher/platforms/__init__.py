"""Pilot-test platforms: stored profiles, their schemas and the service functions that change them."""
