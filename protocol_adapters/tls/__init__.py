"""Veeder-Root TLS serial protocol (automatic tank gauges), computer format, over TCP or a serial line.

- ``codec.py`` — pure framing: command frames, cutting answers out of a byte stream, the ``&&CCCC``
  checksum, IEEE hex floats, the ``9999FF1B`` unknown-command answer;
- ``reports.py`` — pure decoders of the report data (i101, i201, i202, i203, i205) into records;
- ``points.py`` — the per-tank metrics and how records become ``Reading``s;
- ``client.py`` — the one place with I/O (asyncio TCP streams, or pyserial in a worker thread).

The wire contract is ``docs/protocols/tank-gauge-tls.md``.
"""
