"""parsers.sources pieces: whole lines with giant lines capped, NUL runs, the text verdict."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.sources import LineCutter, NulCounter, text_verdict

LIMIT = 64


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    last_newline=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_line_cutter_yields_whole_lines_capped_at_the_limit(lines, last_newline, cuts):
    data = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    cutter = LineCutter(LIMIT)
    out = b""
    at = 0
    for cut in sorted({min(c, len(data)) for c in cuts}) + [len(data)]:
        whole = cutter.feed(data[at:cut])
        assert whole == b"" or whole.endswith(b"\n")
        out += whole
        at = cut
    out += cutter.close()
    parts = data.split(b"\n")
    if data.endswith(b"\n"):
        parts.pop()
    want = b"\n".join(p[:LIMIT] for p in parts) + (b"\n" if data.endswith(b"\n") else b"")
    assert out == (want if data else b"")
    assert cutter.truncated_lines == sum(len(p) > LIMIT for p in parts)
    assert cutter.truncated_bytes == sum(max(len(p) - LIMIT, 0) for p in parts)


def test_nul_counter_counts_runs_across_blocks():
    nuls = NulCounter()
    text = nuls.strip(b"a\0\0") + nuls.strip(b"\0\0b\0c") + nuls.strip(b"\0")
    assert (text, nuls.runs, nuls.bytes) == (b"abc", 3, 6)


def test_text_verdict_judges_the_share_of_non_text_bytes():
    log = b"2026-02-21 12:00:00,000 INFO \x1b[32mok\x1b[0m caf\xe9\r\n" * 200
    assert text_verdict(log) is None
    assert text_verdict(b"\0" * 8192 + log) is None  # a crash-cut log starts with a NUL run
    assert text_verdict(b"") is None
    assert text_verdict(bytes(range(256)) * 64) is not None
    elf = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x03\x00>\x00\x01\x00\x00\x00" * 400
    assert text_verdict(elf) is not None
    assert text_verdict("ein Protokoll".encode("utf-16")) is not None
