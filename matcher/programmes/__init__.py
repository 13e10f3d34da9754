"""Matchmaking programmes (供需对接会): many technologies assigned to platforms with limited slots."""
