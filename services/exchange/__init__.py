"""Exchange with systems outside this installation by edXML: packages and status messages
written to each partner's drop folder through the outbox, and read from our inbox."""
