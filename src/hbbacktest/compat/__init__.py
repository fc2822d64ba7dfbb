"""Hummingbot-API compatibility layer: lets controller files written for Hummingbot V2 run unchanged."""
