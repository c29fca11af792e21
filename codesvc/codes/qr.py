"""The citizen's code drawn as a QR code in SVG: byte for byte what segno draws, cheaper.

segno builds every symbol from nothing: the function patterns, the walk that places each
bit, the mask tested module by module, Reed-Solomon one term at a time, and then an SVG
path from a generator per module. Drawing a code cost about 5 ms of CPU on a quiet core,
the largest cost of serving a citizen's code. Everything but the code's own bits depends
only on the symbol's version, error level and mask, so it is worked out once per version
(``_symbol``): which module each bit lands on, the mask over them, and the fixed modules.
A code is then its codewords (Reed-Solomon with a table per generator), one bit string
XOR the mask, one C-level gather into the module grid, and a path drawn from runs of dark
modules. The rules segno applies (version, error level boosted when it fits, padding) are
followed exactly; anything but a byte-mode text of the length codes have is drawn by
segno itself. `tests/test_codes.py` holds the two equal over codes of every length.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import zip_longest
from operator import itemgetter
from typing import Any
from xml.sax.saxutils import escape

import segno
from segno import consts as _consts
from segno import encoder as _encoder

# segno's tables and encoder steps are untyped; they are read as segno uses them.
consts: Any = _consts
encoder: Any = _encoder

#: Error correction asked for: M, raised to Q or H when the code fits the same version.
ERROR = "m"
#: The QR mask is fixed: choosing the best of eight costs ~20 ms of CPU per code, and
#: phone cameras read either.
MASK = 0
#: Pixels per module, and modules of quiet zone around the symbol.
SCALE = 4
BORDER = 4
#: Shorter texts might fit a Micro QR symbol, which segno would choose: drawn by segno.
_SHORTEST = 24

_LEVELS = (consts.ERROR_LEVEL_M, consts.ERROR_LEVEL_Q, consts.ERROR_LEVEL_H)
_ALPHANUMERIC = frozenset(consts.ALPHANUMERIC_CHARS.decode("ascii"))
_RUNS = re.compile(r"0*\|0*|0+|1+")
#: The path's pieces within a row, by the run they draw (a symbol is at most 177 wide).
_PIECES = {"0" * n: f"m{n} 0" for n in range(1, 178)} | {"1" * n: f"h{n}" for n in range(1, 178)}


def svg(text: str, title: str) -> str:
    """``text`` as ``segno.make(text, error=ERROR, mask=MASK).svg_inline(scale=SCALE,
    title=title)`` draws it."""
    if len(text) < _SHORTEST or not text.isascii() or _ALPHANUMERIC.issuperset(text):
        return segno_svg(text, title)
    data = text.encode("ascii")
    found = _version(len(data))
    if found is None:
        return segno_svg(text, title)  # too long for any symbol: segno says so
    symbol = _symbol(*found)
    return _draw(symbol.modules(_codewords(data, *found)), symbol, title)


def segno_svg(text: str, title: str) -> str:
    """The drawing as segno makes it: the reference `svg` is held to."""
    return segno.make(text, error=ERROR, mask=MASK).svg_inline(scale=SCALE, title=title)


def _bits_needed(version: int, length: int) -> int:
    """Bits of a byte-mode segment of ``length`` bytes: mode, count, data."""
    count_bits = consts.CHAR_COUNT_INDICATOR_LENGTH[consts.MODE_BYTE]
    return 4 + count_bits[encoder.version_range(version)] + 8 * length


def _version(length: int) -> tuple[int, int] | None:
    """The smallest version that holds ``length`` bytes at level M, and the highest level
    that still fits it (segno's ``find_version`` and ``boost_error_level``)."""
    for version in range(1, 41):
        needed = _bits_needed(version, length)
        capacity = consts.SYMBOL_CAPACITY[version]
        if capacity[consts.ERROR_LEVEL_M] >= needed:
            error = consts.ERROR_LEVEL_M
            for level in _LEVELS[1:]:
                if capacity[level] < needed:
                    break
                error = level
            return version, error
    return None


def _codewords(data: bytes, version: int, error: int) -> bytes:
    """The symbol's codewords: data, terminator and padding as segno writes them, split
    into blocks, each with its error correction, interleaved."""
    capacity = consts.SYMBOL_CAPACITY[version][error]
    length = _bits_needed(version, len(data))
    count_bits = length - 4 - 8 * len(data)
    stream = (consts.MODE_BYTE << count_bits | len(data)) << 8 * len(data) | int.from_bytes(data)
    terminator = min(capacity - length, 4)
    # segno pads to the next byte with 1 to 8 zero bits (a whole zero byte when aligned).
    padding = 8 - (length + terminator) % 8
    stream <<= terminator + padding
    length += terminator + padding
    pads = max(capacity // 8 - length // 8, 0)
    message = stream.to_bytes(length // 8) + (b"\xec\x11" * (pads // 2 + 1))[:pads]
    message = message[: capacity // 8]
    data_blocks: list[bytes] = []
    error_blocks: list[bytes] = []
    at = 0
    for info in consts.ECC[version][error]:
        table = _remainders(info.num_total - info.num_data)
        for _ in range(info.num_blocks):
            block = message[at : at + info.num_data]
            at += info.num_data
            data_blocks.append(block)
            error_blocks.append(_remainder(block, table, info.num_total - info.num_data))
    interleaved = bytearray()
    for column in zip_longest(*data_blocks):
        interleaved.extend(b for b in column if b is not None)
    for column in zip(*error_blocks, strict=True):
        interleaved.extend(column)
    return bytes(interleaved)


@cache
def _remainders(degree: int) -> tuple[int, ...]:
    """For each leading coefficient, what dividing by the generator of ``degree`` error
    codewords subtracts (segno's synthetic division, as one table per generator)."""
    log, exp = consts.GALIOS_LOG, consts.GALIOS_EXP
    generator = consts.GEN_POLY[degree]
    rows = [0]
    for coef in range(1, 256):
        rows.append(int.from_bytes(bytes(exp[log[coef] + g] for g in generator)))
    return tuple(rows)


def _remainder(block: bytes, table: tuple[int, ...], degree: int) -> bytes:
    """The error codewords of one block."""
    keep = (1 << 8 * degree) - 1
    top = 8 * (degree - 1)
    rest = 0
    for byte in block:
        rest = ((rest << 8) & keep) ^ table[byte ^ (rest >> top)]
    return rest.to_bytes(degree)


@dataclass(frozen=True, slots=True)
class _Symbol:
    """What every code of one version and error level shares."""

    width: int
    #: modules that carry the code's bits, in the order the bits are placed
    places: int
    #: the mask over those modules, as one integer (first placed bit highest)
    mask: int
    #: the fixed modules (finders, timing, alignment, format, version) as '0'/'1', row-major,
    #: then the rows' separator
    fixed: str
    #: for each module, row by row with a separator between rows: where its value is in
    #: (placed bits + fixed)
    gather: Callable[[str], tuple[str, ...]]
    #: the path's pieces by the run of modules they draw (see `_draw`)
    pieces: dict[str, str]

    def modules(self, codewords: bytes) -> str:
        """The symbol's modules as '0' and '1', the rows separated by '|'."""
        bits = int.from_bytes(codewords) << (self.places - 8 * len(codewords))
        placed = format(bits ^ self.mask, f"0{self.places}b")
        return "".join(self.gather(placed + self.fixed))


@cache
def _symbol(version: int, error: int) -> _Symbol:
    width = encoder.calc_matrix_size(version)
    matrix = encoder.make_matrix(width, width)
    encoder.add_finder_patterns(matrix, width, width)
    encoder.add_alignment_patterns(matrix, width, width)
    order = _placement(matrix, width)
    where = {cell: n for n, cell in enumerate(order)}
    masked = encoder.get_data_mask_functions(is_micro=False)[MASK]
    mask = int("".join("1" if masked(i, j) else "0" for i, j in order), 2)
    for i, j in order:
        matrix[i][j] = 0
    # Format information differs by mask; the mask is fixed, so this symbol is for it.
    encoder.add_format_info(matrix, version, error, MASK)
    encoder.add_version_info(matrix, version)
    fixed = "".join("1" if v else "0" for row in matrix for v in row) + "|"
    places = len(order)
    separator = places + width * width
    cells = []
    for i in range(width):
        if i:
            cells.append(separator)
        cells.extend(
            where[(i, j)] if (i, j) in where else places + i * width + j for j in range(width)
        )
    # Crossing to the next row from t light modules at the end of one to l at the start
    # of the next moves l + t - width across and one row down.
    crossings = {
        "0" * t + "|" + "0" * n: f"m{n + t - width} 1" for t in range(width) for n in range(width)
    }
    return _Symbol(width, places, mask, fixed, itemgetter(*cells), _PIECES | crossings)


def _placement(matrix: tuple[bytearray, ...], width: int) -> list[tuple[int, int]]:
    """The data modules in the order bits are placed: two-module columns from the right,
    alternately upwards and downwards, skipping the vertical timing pattern (segno's
    ``add_codewords``)."""
    order = []
    for right in range(width - 1, 0, -2):
        if right <= 6:
            right -= 1
        upwards = (right & 2) == 0
        for vertical in range(width):
            for z in (0, 1):
                j = right - z
                up = upwards ^ (j < 6)
                i = (width - 1 - vertical) if up else vertical
                if matrix[i][j] == 0x2:
                    order.append((i, j))
    return order


def _draw(grid: str, symbol: _Symbol, title: str) -> str:
    """segno's SVG of a symbol: one path of horizontal runs of dark modules."""
    size = (symbol.width + 2 * BORDER) * SCALE
    return (
        f'<svg width="{size}" height="{size}" class="segno"><title>{escape(title)}</title>'
        f'<path transform="scale({SCALE})" class="qrline" stroke="#000" '
        f'd="{_path(grid, symbol)}"/></svg>'
    )


def _path(grid: str, symbol: _Symbol) -> str:
    """The runs of dark modules, each move relative to where the last run ended.

    A gap of g light modules within a row is always ``m{g} 0``, a run of k dark ones
    ``h{k}``, and the way from one row to the next depends only on the light modules at
    either side: every piece is looked up, not formatted. A symbol starts dark (a finder
    pattern); a row with no dark module at all (a move of two rows, never seen in a code
    but possible) sends the symbol to be drawn row by row.
    """
    runs = _RUNS.findall(grid.rstrip("0|"))
    if runs and runs[0][0] == "1":
        with contextlib.suppress(KeyError):
            start = f"M{BORDER} {BORDER}.5h{len(runs[0])}"
            return start + "".join(map(symbol.pieces.__getitem__, runs[1:]))
    return _path_by_rows(grid.split("|"))


def _path_by_rows(rows: list[str]) -> str:
    """The same path as `_path`, worked out one row at a time."""
    parts = []
    x = 0
    last = -1
    for r, row in enumerate(rows):
        row = row.rstrip("0")
        if not row:
            continue
        start = len(row) - len(row.lstrip("0"))
        runs = _RUNS.findall(row, start)
        at = start + BORDER
        if last < 0:
            parts.append(f"M{at} {r + BORDER}.5h{len(runs[0])}")
        else:
            parts.append(f"m{at - x} {r - last}h{len(runs[0])}")
        parts.extend(map(_PIECES.__getitem__, runs[1:]))
        x, last = len(row) + BORDER, r
    return "".join(parts)
