"""Signing keys and their certificates: which certificates count as a person's or an
organisation's signature (`certificates`), and how many wrong PINs a key tolerates (`pins`)."""
