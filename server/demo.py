"""Placeholder replaced by the demo seeder."""
