"""Embedding, indexing, fusion and ranking: turning a technology description into explained platform matches."""
