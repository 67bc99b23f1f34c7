"""Language-tagged texts of the other domains' records (server/models/texts.py)."""
