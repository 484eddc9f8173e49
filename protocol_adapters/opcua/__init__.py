"""OPC UA: declarative node maps, a pure status/value codec and one async client that keeps a session."""
