"""The periodic audit checkpoint: a scheduled workflow signing a Merkle root of new entries."""
