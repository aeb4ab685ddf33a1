"""The tamper-evident audit trail: a hash chain of entries plus signed Merkle checkpoints."""
