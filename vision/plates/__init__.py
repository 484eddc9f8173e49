"""Licence plates: detect (y5fu, four corners) → warp → read (PP-OCRv4, CTC) → check the format → colour.

``PlateReader`` (reader.py) is the pipeline; the pure parts (formats, voting, CTC decoding, geometry) are apart
from the models so they are tested without them. docs/vision.md, "Plates".
"""

from vision.plates.reader import PlateReader, PlateReadError
from vision.plates.voting import Vote, vote

__all__ = ["PlateReadError", "PlateReader", "Vote", "vote"]
