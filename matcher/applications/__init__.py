"""Platforms applying to join the network, and the review that publishes them."""
