"""Publishing: the public record of a published version and the formats and protocols that
carry it outward (persistent identifiers, citations, landing pages, OAI-PMH, DCAT)."""
