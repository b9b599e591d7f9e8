"""Reading a CSV upload as a stream: encoding and delimiter detection, rows with their physical line numbers.

The file is never loaded whole. Lines are read as bytes and decoded one by one, so a byte that is not valid
in the detected encoding spoils only its own row (reported as that row's error), and the byte offset just
after every row is known exactly: an import stores it and resumes there after an interruption. Lines end
with LF or CRLF, or with a lone CR as in the "CSV (Macintosh)" files spreadsheet programs on the Mac write: a
file whose first 64 KiB hold a CR and no LF is read line by line at each CR.

A large file can also be cut into blocks of whole rows (`CsvSource.blocks`) that other processes parse on their
own (`read_block`): a block ends just after a line break outside quotes, judged by counting quote characters,
and `read_block` says whether its data really ended between rows, so a block cut inside a quoted cell (a stray
quote misled the count) is known and can be read again in file order.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

import charset_normalizer

from cadenza.core.errors import ValidationFailed

SAMPLE_BYTES = 64 * 1024
BLOCK_GROWTH_LIMIT = 8  # a block grows up to this many times its size looking for a line break outside quotes
_QUOTE = b'"'  # the same byte in every encoding read here (UTF-8 and single-byte Western), as LF and CR are
DELIMITERS = ",;\t|"
MAX_RAW_CHARS = 1_000  # of a row's text kept for its error report

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Western single-byte encodings spreadsheet programs write when they do not write UTF-8.
_SINGLE_BYTE_CANDIDATES = ["cp1252", "latin_1", "iso8859_15"]


@dataclass(frozen=True)
class CsvFormat:
    encoding: str  # a Python codec name: "utf-8", "utf-8-sig" (UTF-8 with a byte-order mark), "cp1252" …
    delimiter: str
    line_end: bytes = b"\n"  # the byte that ends a physical line: LF (also ending CRLF), or CR alone (set by CsvSource)

    @property
    def bom_length(self) -> int:
        return len(_UTF8_BOM) if self.encoding == "utf-8-sig" else 0

    @property
    def line_codec(self) -> str:
        """The codec for one line (the byte-order mark is skipped once, at the start of the file)."""
        return "utf-8" if self.encoding == "utf-8-sig" else self.encoding


@dataclass(slots=True)
class SourceRow:
    """One row of cells, where it starts and ends in the file, and why it is unreadable (if it is)."""

    line: int  # physical line on which the row starts (the header is line 1 when it is the first line)
    values: list[str]
    end_line: int  # physical line on which the row ends (a quoted cell may span lines)
    end_offset: int  # byte offset just after the row
    raw: str  # the row's text as read, truncated, for error reports
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Block:
    """Whole rows of the file as bytes: where they start, how many physical lines come before, whether the
    file ends with them."""

    data: bytes
    offset: int
    lines_before: int
    end_line: int
    last: bool

    @property
    def end_offset(self) -> int:
        return self.offset + len(self.data)


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else a Western single-byte encoding (charset-normalizer)."""
    if sample.startswith(_UTF8_BOM):
        return "utf-8-sig"
    if sample.startswith(_UTF16_BOMS):
        raise ValidationFailed("This file is UTF-16 text. Save it as “CSV UTF-8” and upload it again.",
                               errors=[{"field": "file", "message": "UTF-16 is not supported"}])
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)  # a sample may end mid-character
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(sample, cp_isolation=_SINGLE_BYTE_CANDIDATES).best()
    return codecs.lookup(best.encoding).name if best is not None else "latin-1"


def detect_delimiter(text: str) -> str:
    """The delimiter among , ; tab | — csv.Sniffer on whole lines of the sample, checked by counting."""
    lines = text.splitlines()
    if len(lines) > 1:
        lines = lines[:-1]  # the last line of a sample may be cut short
    sample = "\n".join(lines[:200])
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    header = lines[0] if lines else ""
    counts = {d: header.count(d) for d in DELIMITERS}
    if sniffed in counts and counts[sniffed] > 0:
        return sniffed
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def detect_format(stream: BinaryIO) -> CsvFormat:
    """Reads a leading sample and rewinds the stream."""
    start = stream.tell()
    sample = stream.read(SAMPLE_BYTES)
    stream.seek(start)
    if not sample.strip():
        raise ValidationFailed("The file is empty.", errors=[{"field": "file", "message": "is empty"}])
    encoding = detect_encoding(sample)
    fmt = CsvFormat(encoding, ",")
    text = sample[fmt.bom_length:].decode(fmt.line_codec, errors="replace")
    return CsvFormat(encoding, detect_delimiter(text))  # its line ends: CsvSource reads them from the file


def detect_line_end(sample: bytes) -> bytes:
    """CR when the sample has a CR and no LF (old Mac line endings), else LF (which also ends CRLF lines)."""
    return b"\r" if b"\n" not in sample and b"\r" in sample else b"\n"


class CsvSource:
    """A seekable binary CSV stream read row by row. `headers` is the first non-empty row."""

    def __init__(self, stream: BinaryIO, fmt: CsvFormat) -> None:
        self.stream = stream
        stream.seek(0)
        # The file's own line ends, whatever `fmt` says (a format stored with an import does not keep them)
        fmt = replace(fmt, line_end=detect_line_end(stream.read(SAMPLE_BYTES)))
        self.format = fmt
        first = next(_read_rows(stream, fmt, fmt.bom_length, 0), None)
        if first is None:
            raise ValidationFailed("The file has no header row.", errors=[{"field": "file", "message": "is empty"}])
        if first.error:
            raise ValidationFailed(f"The header row cannot be read: {first.error}",
                                   errors=[{"field": "file", "message": first.error}])
        self.headers = unique_headers(first.values)
        self.header_end_offset = first.end_offset
        self.header_end_line = first.end_line

    def rows(self, start_offset: int | None = None, start_line: int | None = None) -> Iterator[SourceRow]:
        """Data rows from a resume point (default: just after the header); empty lines are skipped."""
        return _read_rows(self.stream, self.format, *self._resume_point(start_offset, start_line))

    def blocks(self, start_offset: int | None, start_line: int | None, rows: int) -> Iterator[Block]:
        """The data rows from a resume point as blocks of about `rows` rows each (sized from the first rows),
        each ending just after a line break outside quotes as far as quote characters can tell."""
        offset, lines = self._resume_point(start_offset, start_line)
        line_end = self.format.line_end
        self.stream.seek(offset)
        sample = self.stream.read(SAMPLE_BYTES)
        size = max(1, rows * len(sample) // max(1, sample.count(line_end)))
        self.stream.seek(offset)
        pending = b""
        while True:
            wanted = max(size - len(pending), size // 4, 1)
            more = self.stream.read(wanted)
            pending += more
            if len(more) < wanted:  # the end of the file (a buffered or in-memory stream reads all it is asked)
                if pending:
                    yield Block(pending, offset, lines, lines + pending.count(line_end), last=True)
                return
            cut = _row_boundary(pending, line_end)
            if cut is None and len(pending) >= BLOCK_GROWTH_LIMIT * size:
                cut = pending.rfind(line_end) + 1 or None  # read_block will tell whether this is one
            if cut is None:
                continue
            data = pending[:cut]
            block = Block(data, offset, lines, lines + data.count(line_end), last=False)
            pending = pending[cut:]
            offset, lines = block.end_offset, block.end_line
            yield block

    def _resume_point(self, start_offset: int | None, start_line: int | None) -> tuple[int, int]:
        """Where reading starts: the resume point's byte offset and the physical lines before it (default, or
        before the header's end: just after the header)."""
        if start_offset is None or start_offset < self.header_end_offset:
            return self.header_end_offset, self.header_end_line
        return start_offset, start_line or 0

    def records(self, start_offset: int | None = None, start_line: int | None = None
                ) -> Iterator[tuple[int, dict[str, str], str | None]]:
        """(line number, {header: cell}, error or None) for each data row."""
        width = len(self.headers)
        for row in self.rows(start_offset, start_line):
            values = row.values + [""] * (width - len(row.values))
            yield row.line, dict(zip(self.headers, values, strict=False)), row.error


def read_block(block: Block, fmt: CsvFormat) -> list[SourceRow] | None:
    """The rows of a block, as `CsvSource.rows` reads them; None when the block's data ends inside a row (it was
    cut in a quoted cell), unless the file ends there too (then that row is a row error, as in file order)."""
    rows = _read_whole_block(block, fmt)
    if rows is not None:
        return rows
    rows = []
    reader = _read_rows(io.BytesIO(block.data), fmt, 0, block.lines_before, cut_short=not block.last)
    try:
        rows.extend(reader)
    except _CutShort:
        return None
    offset = block.offset
    for row in rows:
        row.end_offset += offset
    return rows


def _read_whole_block(block: Block, fmt: CsvFormat) -> list[SourceRow] | None:
    """`read_block` for a block that decodes as a whole and whose rows all read: the block is decoded at once and
    its lines handed to csv as a list, and csv's count of lines read tells where each row starts and ends, with
    none of `_Lines`' work per line (reading was a third of a worker's time). None: anything else (a byte the
    encoding cannot read, a row csv refuses, data that ends inside a quoted cell), for `_read_rows`, line by line,
    whose results these are (a test compares the two)."""
    try:
        text = block.data.decode(fmt.line_codec)
    except UnicodeDecodeError:
        return None
    end = fmt.line_end.decode("ascii")
    lines = [line + end for line in text.split(end)]
    if text.endswith(end) or not text:
        lines.pop()  # split's last piece is what follows the last line break: nothing here
    else:
        lines[-1] = lines[-1][:-1]
    one_byte_each = len(text) == len(block.data)  # then a line's length in characters is its length in bytes
    reader = csv.reader(lines, delimiter=fmt.delimiter, strict=True)
    rows: list[SourceRow] = []
    taken, offset, before = 0, block.offset, block.lines_before
    try:
        for values in reader:
            upto = reader.line_num
            raw = lines[taken] if upto - taken == 1 else "".join(lines[taken:upto])
            offset += len(raw) if one_byte_each else len(raw.encode(fmt.line_codec))
            line, taken = before + taken + 1, upto
            if not _blank(values):
                rows.append(SourceRow(line, values, before + upto, offset, raw[:MAX_RAW_CHARS].rstrip("\r\n")))
    except csv.Error:
        return None
    return rows


class _CutShort(Exception):
    """The data ended inside a row."""


def _row_boundary(data: bytes, line_end: bytes) -> int | None:
    """Just after the last of the final line breaks of `data` with an even number of quote characters before
    it (outside quotes, if `data` starts a row and no quote stands alone inside an unquoted cell)."""
    end = data.rfind(line_end)
    quotes = data.count(_QUOTE, 0, end) if end >= 0 else 0
    for _ in range(64):
        if end < 0:
            return None
        if quotes % 2 == 0:
            return end + 1
        before = data.rfind(line_end, 0, end)
        quotes -= data.count(_QUOTE, before + 1, end)
        end = before
    return None


def _blank(values: list[str]) -> bool:
    """An empty line, or one of only delimiters: no cell has more than whitespace (the first cell looked at
    alone first, which settles most rows; then all of them at once, in C)."""
    return not ((values and values[0].strip()) or "".join(values).strip())


def _read_rows(stream: BinaryIO, fmt: CsvFormat, offset: int, lines_before: int, *,
               cut_short: bool = False) -> Iterator[SourceRow]:
    """Rows from `offset`; with `cut_short`, data that ends inside a row raises _CutShort."""
    stream.seek(offset)
    reader_input = _Lines(stream, fmt.line_codec, offset, lines_before, fmt.line_end)
    reader = csv.reader(reader_input, delimiter=fmt.delimiter, strict=True)
    while True:
        error: str | None = None
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as problem:
            if cut_short and reader_input.exhausted:
                raise _CutShort() from problem
            values, error = [], f"cannot be read as CSV ({problem})"
        lines = reader_input.take_lines()
        if not lines:
            return
        if reader_input.decode_error and error is None:
            error = reader_input.decode_error
        reader_input.decode_error = None
        if error is None and not "".join(values).strip():  # as no cell having more than whitespace, in C
            continue  # an empty line, or one of only delimiters
        raw = lines[0] if len(lines) == 1 else "".join(lines)
        yield SourceRow(
            line=reader_input.lines - len(lines) + 1, values=values, end_line=reader_input.lines,
            end_offset=reader_input.offset, raw=raw[:MAX_RAW_CHARS].rstrip("\r\n"), error=error,
        )


class _Lines:
    """Decoded lines for csv.reader, counting bytes and physical lines, keeping the current row's text."""

    __slots__ = ("buffer", "codec", "decode_error", "exhausted", "line_end", "lines", "offset", "pending",
                 "position", "stream")

    def __init__(self, stream: BinaryIO, codec: str, offset: int, lines: int, line_end: bytes = b"\n") -> None:
        self.stream = stream
        self.codec = codec
        self.offset = offset
        self.lines = lines
        self.line_end = line_end
        self.pending: list[str] = []
        self.decode_error: str | None = None
        self.exhausted = False
        self.buffer = b""  # read ahead, for lines that end with CR (readline knows only LF)
        self.position = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self.stream.readline() if self.line_end == b"\n" else self._read_to_cr()
        if not raw:
            self.exhausted = True
            raise StopIteration
        self.offset += len(raw)
        self.lines += 1
        try:
            text = raw.decode(self.codec)
        except UnicodeDecodeError as problem:
            text = raw.decode(self.codec, errors="replace")
            bad = raw[problem.start:problem.end].hex(" ")
            self.decode_error = f"has bytes that are not valid {self.codec} (0x{bad} on line {self.lines})"
        self.pending.append(text)
        return text

    def _read_to_cr(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r", self.position)
            if end >= 0:
                line = self.buffer[self.position:end + 1]
                self.position = end + 1
                return line
            more = self.stream.read(64 * 1024)
            if not more:
                line, self.buffer, self.position = self.buffer[self.position:], b"", 0
                return line
            self.buffer = self.buffer[self.position:] + more
            self.position = 0

    def take_lines(self) -> list[str]:
        lines, self.pending = self.pending, []
        return lines


def unique_headers(values: list[str]) -> list[str]:
    """Trimmed header names; blanks become `column_N`, repeats get ` (2)`, ` (3)` …"""
    seen: dict[str, int] = {}
    headers: list[str] = []
    for position, value in enumerate(values, start=1):
        name = value.strip().lstrip("\ufeff") or f"column_{position}"
        count = seen.get(name, 0) + 1
        seen[name] = count
        headers.append(name if count == 1 else f"{name} ({count})")
    return headers
