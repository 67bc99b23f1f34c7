"""W3C PROV provenance: recorded as a by-product (records), read as lineage (lineage),
exported as PROV-JSON, PROV-O, PROV-N and RO-Crate (export), checked for fixity (fixity)."""
