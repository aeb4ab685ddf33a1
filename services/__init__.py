"""Domain services: configuration, database, directory, auth, audit, documents and their stores."""
