"""Sign-in, sessions, API tokens, password hashing and throttling."""
