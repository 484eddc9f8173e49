"""Pure JPEG helpers: a small baseline greyscale encoder and segment-level stamping.

Pillow and OpenCV are not available, and the empty-lane frame is generated, so this encodes
an 8-bit greyscale image (numpy array) as a baseline JFIF: one component, the ITU T.81
Annex K luminance quantisation table scaled by quality, the Annex K Huffman tables.

``stamp`` inserts a COM (comment) segment into any JPEG without decoding it; the camera
server uses it to make every frame carry its camera, sequence number and timestamp.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
COM = 0xFE

# ITU T.81 Annex K.1, luminance, natural (row-major) order.
_LUMINANCE_QUANT = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float64,
)

# ITU T.81 Annex K.3: code counts per length 1..16, then the symbols in code order.
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_VALUES = tuple(range(12))
_AC_BITS = (0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D)
_AC_VALUES = bytes.fromhex(
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f0"
    "2433627282090a161718191a25262728292a3435363738393a434445464748494a"
    "535455565758595a636465666768696a737475767778797a838485868788898a"
    "92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6"
    "c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa"
)

ZIGZAG = tuple(sorted(range(64), key=lambda i: (i // 8 + i % 8, i // 8 if (i // 8 + i % 8) % 2 else i % 8)))


def _dct_matrix() -> npt.NDArray[np.float64]:
    u = np.arange(8).reshape(8, 1)
    x = np.arange(8).reshape(1, 8)
    matrix: npt.NDArray[np.float64] = np.cos((2 * x + 1) * u * np.pi / 16) * np.sqrt(2 / 8)
    matrix[0, :] = np.sqrt(1 / 8)
    return matrix


_DCT = _dct_matrix()


def _huffman_codes(bits: tuple[int, ...], values: bytes | tuple[int, ...]) -> dict[int, tuple[int, int]]:
    """Canonical Huffman codes: symbol -> (code, length)."""
    codes: dict[int, tuple[int, int]] = {}
    code, index = 0, 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes[values[index]] = (code, length)
            code += 1
            index += 1
        code <<= 1
    return codes


_DC_CODES = _huffman_codes(_DC_BITS, _DC_VALUES)
_AC_CODES = _huffman_codes(_AC_BITS, _AC_VALUES)


def quant_table(quality: int) -> npt.NDArray[np.int64]:
    """The luminance table scaled the way the IJG library does (quality 1..100)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1..100, got {quality}")
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((_LUMINANCE_QUANT * scale + 50) / 100), 1, 255).astype(np.int64)


class _BitWriter:
    def __init__(self) -> None:
        self._out = bytearray()
        self._acc = 0
        self._count = 0

    def write(self, value: int, length: int) -> None:
        self._acc = (self._acc << length) | (value & ((1 << length) - 1))
        self._count += length
        while self._count >= 8:
            self._count -= 8
            byte = (self._acc >> self._count) & 0xFF
            self._out.append(byte)
            if byte == 0xFF:
                self._out.append(0x00)  # byte stuffing
        self._acc &= (1 << self._count) - 1

    def finish(self) -> bytes:
        if self._count:
            self.write((1 << (8 - self._count)) - 1, 8 - self._count)  # pad with 1 bits
        return bytes(self._out)


def _magnitude(value: int) -> tuple[int, int]:
    """JPEG category (bit length) and the bits that encode ``value``."""
    size = abs(value).bit_length()
    return size, value if value >= 0 else value + (1 << size) - 1


def _blocks(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    height, width = image.shape
    padded = np.pad(image, ((0, -height % 8), (0, -width % 8)), mode="edge").astype(np.float64) - 128.0
    rows, cols = padded.shape[0] // 8, padded.shape[1] // 8
    return padded.reshape(rows, 8, cols, 8).swapaxes(1, 2).reshape(rows * cols, 8, 8)


def _entropy_code(coefficients: npt.NDArray[np.int64]) -> bytes:
    writer = _BitWriter()
    previous_dc = 0
    for block in coefficients.tolist():
        size, bits = _magnitude(block[0] - previous_dc)
        previous_dc = block[0]
        writer.write(*_DC_CODES[size])
        writer.write(bits, size)
        run = 0
        for value in block[1:]:
            if value == 0:
                run += 1
                continue
            while run > 15:
                writer.write(*_AC_CODES[0xF0])
                run -= 16
            size, bits = _magnitude(value)
            writer.write(*_AC_CODES[run << 4 | size])
            writer.write(bits, size)
            run = 0
        if run:
            writer.write(*_AC_CODES[0x00])
    return writer.finish()


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def encode_greyscale(image: npt.NDArray[np.uint8], quality: int = 75) -> bytes:
    """A baseline JFIF of an 8-bit greyscale image (rows x columns)."""
    if image.ndim != 2 or image.dtype != np.uint8 or min(image.shape) < 1:
        raise ValueError("expected a non-empty 2-D uint8 array")
    height, width = image.shape
    table = quant_table(quality)
    dct = np.einsum("ux,bxy,vy->buv", _DCT, _blocks(image), _DCT)
    quantised = np.rint(dct / table).astype(np.int64).reshape(-1, 64)[:, ZIGZAG]
    zigzag_table = bytes(table.reshape(64)[list(ZIGZAG)].tolist())
    huffman = b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALUES) + b"\x10" + bytes(_AC_BITS) + _AC_VALUES
    return b"".join(
        (
            SOI,
            _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            _segment(0xDB, b"\x00" + zigzag_table),
            _segment(0xC0, b"\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big") + b"\x01\x01\x11\x00"),
            _segment(0xC4, huffman),
            _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            _entropy_code(quantised),
            EOI,
        )
    )


def stamp(jpeg: bytes, comment: str) -> bytes:
    """The same JPEG with a COM segment after SOI and any APPn segments (JFIF stays first)."""
    if not jpeg.startswith(SOI):
        raise ValueError("not a JPEG (no SOI marker)")
    payload = comment.encode("ascii", errors="replace")[:65533]
    offset = 2
    while offset + 4 <= len(jpeg) and jpeg[offset] == 0xFF and 0xE0 <= jpeg[offset + 1] <= 0xEF:
        offset += 2 + int.from_bytes(jpeg[offset + 2 : offset + 4], "big")
    return jpeg[:offset] + _segment(COM, payload) + jpeg[offset:]


def comment_of(jpeg: bytes) -> str | None:
    """The first COM segment's text, searching the header segments (for tests and clients)."""
    offset = 2
    while offset + 4 <= len(jpeg) and jpeg[offset] == 0xFF and jpeg[offset + 1] not in (0xDA, 0xD9):
        length = int.from_bytes(jpeg[offset + 2 : offset + 4], "big")
        if jpeg[offset + 1] == COM:
            return jpeg[offset + 4 : offset + 2 + length].decode("ascii", errors="replace")
        offset += 2 + length
    return None


def dimensions(jpeg: bytes) -> tuple[int, int] | None:
    """(width, height) from the first SOFn segment, or None."""
    offset = 2
    while offset + 9 <= len(jpeg) and jpeg[offset] == 0xFF:
        marker = jpeg[offset + 1]
        length = int.from_bytes(jpeg[offset + 2 : offset + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(jpeg[offset + 5 : offset + 7], "big")
            width = int.from_bytes(jpeg[offset + 7 : offset + 9], "big")
            return width, height
        offset += 2 + length
    return None
