"""Leaf package: errors, enums and time helpers shared by every layer."""
