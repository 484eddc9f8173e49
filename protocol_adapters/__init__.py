"""Device protocols: pure codecs (bytes or registers in, typed readings out) and one I/O client each."""
