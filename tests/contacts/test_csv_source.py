"""Reading CSV uploads: encodings, delimiters, physical line numbers, bad bytes, resume offsets. No database."""

from __future__ import annotations

import io

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cadenza.contacts.csv_source import (
    BLOCK_GROWTH_LIMIT,
    CsvFormat,
    CsvSource,
    SourceRow,
    detect_format,
    read_block,
    unique_headers,
)
from cadenza.core.errors import ValidationFailed


def source(data: bytes) -> CsvSource:
    stream = io.BytesIO(data)
    return CsvSource(stream, detect_format(stream))


def rows(data: bytes) -> list[tuple[int, list[str], str | None]]:
    return [(row.line, row.values, row.error) for row in source(data).rows()]


@pytest.mark.parametrize(("data", "encoding"), [
    ("email,last_name\nm@example.com,Müller\nj@example.com,José\n".encode(), "utf-8"),
    (b"\xef\xbb\xbf" + "email,last_name\nm@example.com,Müller\nj@example.com,José\n".encode(), "utf-8-sig"),
    ("email,last_name\nm@example.com,Müller\nj@example.com,José\n".encode("latin-1"), "cp1252"),
], ids=["utf-8", "utf-8-bom", "latin-1"])
def test_encodings_are_detected_and_names_read_back_exactly(data: bytes, encoding: str) -> None:
    reader = source(data)

    assert reader.format.encoding == encoding
    assert reader.headers == ["email", "last_name"]
    assert [(r.line, r.values) for r in reader.rows()] == [(2, ["m@example.com", "Müller"]),
                                                          (3, ["j@example.com", "José"])]


def test_windows_1252_punctuation_is_read_as_such() -> None:
    data = "email,note\na@example.com,“quoted” – €5\n".encode("cp1252")

    assert rows(data) == [(2, ["a@example.com", "“quoted” – €5"], None)]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_delimiters_are_detected(delimiter: str) -> None:
    text = delimiter.join(["email", "first_name", "company"]) + "\n"
    text += delimiter.join(["a@example.com", "Ada", "Acme, Inc." if delimiter != "," else '"Acme, Inc."']) + "\n"

    reader = source(text.encode())

    assert reader.format.delimiter == delimiter
    assert [r.values for r in reader.rows()] == [["a@example.com", "Ada", "Acme, Inc."]]


def test_a_single_column_file_reads_with_the_default_delimiter() -> None:
    reader = source(b"email\na@example.com\nb@example.com\n")

    assert reader.format.delimiter == ","
    assert [r.values for r in reader.rows()] == [["a@example.com"], ["b@example.com"]]


def test_multi_line_quoted_cells_keep_the_physical_line_of_each_row() -> None:
    data = (b'email,note\r\n'
            b'a@example.com,"first line\r\nsecond line\r\nthird line"\r\n'
            b'b@example.com,plain\r\n'
            b'c@example.com,"two\nlines"\n'
            b'd@example.com,last\n')

    assert rows(data) == [
        (2, ["a@example.com", "first line\r\nsecond line\r\nthird line"], None),
        (5, ["b@example.com", "plain"], None),
        (6, ["c@example.com", "two\nlines"], None),
        (8, ["d@example.com", "last"], None),
    ]


def test_empty_lines_are_skipped_but_still_counted() -> None:
    data = b"\n\nemail,name\n\na@example.com,Ada\n , \n,\nb@example.com,Bob\n\n"

    reader = source(data)

    assert reader.headers == ["email", "name"]
    assert [(r.line, r.values) for r in reader.rows()] == [(5, ["a@example.com", "Ada"]), (8, ["b@example.com", "Bob"])]


def test_a_bad_byte_in_a_utf8_file_spoils_only_its_own_row() -> None:
    data = b"email,name\na@example.com,Ada\nb@example.com,M\xfcller\nc@example.com,Cy\n"
    sample = io.BytesIO(b"email,name\n" + b"x@example.com,Ok\n" * 10)  # the sample that decided "utf-8"

    reader = CsvSource(io.BytesIO(data), detect_format(sample))
    found = list(reader.rows())

    assert reader.format.encoding == "utf-8"
    assert [(r.line, r.error is None) for r in found] == [(2, True), (3, False), (4, True)]
    assert found[1].error == "has bytes that are not valid utf-8 (0xfc on line 3)"
    assert found[1].raw == "b@example.com,M\ufffdller"
    assert found[2].values == ["c@example.com", "Cy"]


def test_rows_know_their_end_and_reading_resumes_from_it() -> None:
    data = b'email,note\na@example.com,"x\ny"\nb@example.com,z\nc@example.com,w\n'
    reader = source(data)
    first = next(iter(reader.rows()))

    resumed = list(reader.rows(first.end_offset, first.end_line))

    assert (first.line, first.end_line, first.end_offset) == (2, 3, len(b'email,note\na@example.com,"x\ny"\n'))
    assert [(r.line, r.values) for r in resumed] == [(4, ["b@example.com", "z"]), (5, ["c@example.com", "w"])]
    assert resumed[-1].end_offset == len(data)


def test_an_unclosed_quote_at_the_end_is_a_row_error() -> None:
    data = b'email,note\na@example.com,ok\nb@example.com,"never closed\nmore\n'

    found = rows(data)

    assert found[0] == (2, ["a@example.com", "ok"], None)
    assert found[1][0] == 3
    assert found[1][2] is not None and found[1][2].startswith("cannot be read as CSV")


def test_records_pad_short_rows_with_empty_cells() -> None:
    reader = source(b"email,first,last\na@example.com,Ada\n")

    assert list(reader.records()) == [(2, {"email": "a@example.com", "first": "Ada", "last": ""}, None)]


def test_headers_are_trimmed_and_made_unique() -> None:
    assert unique_headers([" Email ", "", "Name", "Name", "\ufeffTags"]) == [
        "Email", "column_2", "Name", "Name (2)", "Tags"]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The file is empty."),
    (b"\n\n  \n", "The file is empty."),
    (b"\xff\xfee\x00m\x00", "This file is UTF-16 text. Save it as “CSV UTF-8” and upload it again."),
], ids=["empty", "blank", "utf-16"])
def test_files_that_cannot_be_read_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        source(data)
    assert refused.value.detail == message


def test_a_format_can_be_given_instead_of_detected() -> None:
    reader = CsvSource(io.BytesIO("a;b\n1;Ä\n".encode("latin-1")), CsvFormat("latin-1", ";"))

    assert [r.values for r in reader.rows()] == [["1", "Ä"]]


def test_a_quoted_cell_followed_by_text_is_a_row_error_and_the_next_row_reads() -> None:
    data = b'email,note\na@example.com,"x"y\nb@example.com,fine\n'

    found = rows(data)

    assert found[0][0] == 2 and found[0][2] == "cannot be read as CSV (',' expected after '\"')"
    assert found[1] == (3, ["b@example.com", "fine"], None)


def test_a_quote_inside_an_unquoted_cell_is_kept() -> None:
    assert rows(b'email,note\na@example.com,5" screen\n') == [(2, ["a@example.com", '5" screen'], None)]


# ---- blocks: the file cut into whole rows for other processes to read --------------------------------------

CELLS = ["a@example.com", "Ada", "", " ", '"Acme, Inc."', '"two\nlines"', '"say ""hi"""', '"three\r\nphysical\nlines"',
         "M\xfcller".encode("latin-1").decode("latin-1"), "6\" tall", '"x"y']


def row_facts(found: list[SourceRow]) -> list[tuple[object, ...]]:
    return [(r.line, r.values, r.error, r.raw, r.end_line, r.end_offset) for r in found]


def read_in_blocks(reader: CsvSource, rows_per_block: int) -> tuple[list[SourceRow], bool]:
    """As the import's worker processes read a file: block by block, and from a block that was cut inside a row
    onwards, in file order. Returns the rows and whether a block was cut inside a row."""
    found: list[SourceRow] = []
    for block in reader.blocks(None, None, rows_per_block):
        rows_of_block = read_block(block, reader.format)
        if rows_of_block is None:
            return found + list(reader.rows(block.offset, block.lines_before)), True
        found.extend(rows_of_block)
    return found, False


def csv_text(draw: st.DrawFn) -> bytes:
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    cells = CELLS if ending != "\r" else [cell for cell in CELLS if "\n" not in cell]  # a CR file has no LF
    lines = draw(st.lists(st.lists(st.sampled_from(cells), min_size=1, max_size=4), min_size=0, max_size=25))
    text = "email,note" + ending + "".join(",".join(row) + ending for row in lines)
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # no line break after the last row
    return text.encode("utf-8")


@given(data=st.data(), rows_per_block=st.integers(1, 6))
@settings(max_examples=300, deadline=None)
def test_a_file_read_in_blocks_gives_the_rows_of_reading_it_in_order(data: st.DataObject,
                                                                     rows_per_block: int) -> None:
    raw = data.draw(st.composite(csv_text)())
    reader = CsvSource(io.BytesIO(raw), CsvFormat("utf-8", ","))

    found, _cut_inside = read_in_blocks(reader, rows_per_block)

    assert row_facts(found) == row_facts(list(reader.rows()))
    assert not any(row.error for row in found if '"x"y' not in row.raw)  # every line end was read as one


@given(data=st.data(), rows_per_block=st.integers(1, 6))
@settings(max_examples=200, deadline=None)
def test_blocks_end_between_rows_when_no_quote_stands_alone(data: st.DataObject, rows_per_block: int) -> None:
    raw = data.draw(st.composite(csv_text)())
    assume(b'6" tall' not in raw and b'"x"y' not in raw)
    reader = CsvSource(io.BytesIO(raw), CsvFormat("utf-8", ","))
    # A block grows at most BLOCK_GROWTH_LIMIT times its size looking for a row's end (sized from the average
    # line), then is cut anyway: a row far longer than the others (spanning many lines) may be cut, and is read
    # again in order.
    body = raw[reader.header_end_offset:]
    size = rows_per_block * len(body) // max(1, body.count(reader.format.line_end))
    assume(all(len(row.raw.encode()) + 2 < BLOCK_GROWTH_LIMIT // 2 * size for row in reader.rows()))

    _found, cut_inside = read_in_blocks(reader, rows_per_block)

    assert not cut_inside


def test_a_block_cut_inside_a_quoted_cell_is_known_and_read_again_in_order() -> None:
    # The stray quote in '6" tall' makes the count odd, so the line break inside the quoted cell looks like the
    # end of a row.
    data = b'email,note\na@example.com,6" tall\nb@example.com,"one\ntwo"\nc@example.com,end\n'
    reader = source(data)

    found, cut_inside = read_in_blocks(reader, 1)

    assert cut_inside
    assert [(r.line, r.values) for r in found] == [(2, ["a@example.com", '6" tall']),
                                                  (3, ["b@example.com", "one\ntwo"]), (5, ["c@example.com", "end"])]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_a_block_with_bytes_its_encoding_cannot_read_gives_the_rows_of_reading_in_order(ending: bytes) -> None:
    lines = [b"email,name", b"a@example.com,Ada", b"b@example.com,M\xfcller", b'c@example.com,"Caf\xc3\xa9', b'bar"',
             b"d@example.com,Di"]
    reader = CsvSource(io.BytesIO(ending.join(lines) + ending), CsvFormat("utf-8", ","))

    found, cut_inside = read_in_blocks(reader, 2)

    assert not cut_inside
    assert row_facts(found) == row_facts(list(reader.rows()))
    assert [row.error is not None for row in found] == [False, True, False, False]


def test_a_block_reports_a_row_it_cannot_read_as_a_row_error_not_as_a_cut() -> None:
    reader = source(b'email,note\na@example.com,"x"y\nb@example.com,fine\nc@example.com,"never closed\n')
    blocks = list(reader.blocks(None, None, 1))

    read = [read_block(block, reader.format) for block in blocks]

    assert [block.last for block in blocks] == [False, False, True]
    assert [[(r.line, r.error is not None) for r in rows or []] for rows in read] == [
        [(2, True)], [(3, False)], [(4, True)]]  # the last one: the file ends inside the quoted cell


def test_blocks_resume_where_an_import_stopped() -> None:
    data = b"email\n" + b"".join(b"p%d@example.com\n" % n for n in range(50))
    reader = source(data)
    stop = list(reader.rows())[19]

    blocks = list(reader.blocks(stop.end_offset, stop.end_line, 10))
    resumed = [row for block in blocks for row in read_block(block, reader.format) or []]

    assert [r.line for r in resumed] == list(range(22, 52))
    assert [block.offset for block in blocks] == [stop.end_offset, *(block.end_offset for block in blocks[:-1])]
    assert blocks[-1].end_offset == len(data)
    assert 2 <= len(blocks) <= 4


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_lines_may_end_with_lf_crlf_or_a_lone_cr(ending: str) -> None:
    text = ending.join(["email,note", "a@example.com,one", "", 'b@example.com,"two', 'lines"', "c@example.com,end"])
    data = (text + ending).encode()
    reader = source(data)

    found = list(reader.rows())
    resumed = list(reader.rows(found[0].end_offset, found[0].end_line))

    assert reader.format.line_end == (b"\r" if ending == "\r" else b"\n")
    assert [(r.line, r.values, r.error) for r in found] == [
        (2, ["a@example.com", "one"], None), (4, ["b@example.com", f"two{ending}lines"], None),
        (6, ["c@example.com", "end"], None)]
    assert found[-1].end_offset == len(data)
    assert [r.line for r in resumed] == [4, 6]
    assert found[1].raw == f'b@example.com,"two{ending}lines"'
