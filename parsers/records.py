"""Lines -> records, by the folding rule of shared/DESIGN.md (exactly).

A record is a head line plus its continuation lines. The folder is a streaming state machine per
file: feed it decoded, ANSI-free lines in order and it hands back each record once the next head
closes it, so a record split across a read chunk is still one record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parsers.prefix import DEDUP, TRACEBACK, Clock, is_exception_line, is_timestamped, split_prefix

SEVERE = frozenset(("WARNING", "ERROR", "FATAL"))


@dataclass(slots=True)
class Record:
    file: str
    line: int  # 1-based number of the head line in its file
    prefix: str | None
    source: str | None
    pid: str | None
    ip: str | None
    ts: int | None  # epoch ms of the head's own timestamp
    level: str | None
    bodies: list[str] = field(default_factory=list)  # each line's text after its prefix
    repeat: int = 1
    # fold state
    tb_open: bool = False
    last: str = "other"  # kind of the record's last line: exc | indent | other
    had_exc: bool = False
    repeat_seen: bool = False

    @property
    def lines(self) -> int:
        return len(self.bodies)

    @property
    def message(self) -> str:
        return "\n".join(self.bodies)


class RecordFolder:
    """Folds the lines of one file into records.

    >>> f = RecordFolder("x.log")
    >>> [r.line for r in f.feed(["a", "Traceback (most recent call last):", "  x", "E: y", "b"])] + [f.close().line]
    [1, 2, 5]
    """

    def __init__(self, file: str, clock: Clock | None = None, first_line: int = 1):
        self.file = file
        self.clock = clock or Clock()
        self.lineno = first_line - 1
        self.open: Record | None = None

    def feed(self, lines):
        """Yield the records that the given lines close."""
        for text in lines:
            self.lineno += 1
            rec = self.fold(text)
            if rec is not None:
                yield rec

    def close(self) -> Record | None:
        rec, self.open = self.open, None
        return rec

    def fold(self, text: str) -> Record | None:
        prefix, source, pid, ip, body = split_prefix(text)
        dedup = DEDUP.search(body) if "[repeated " in body else None
        mbody = body[: dedup.start()] if dedup else body
        cur = self.open
        if cur is not None and (prefix is None or prefix == cur.prefix):
            indented = mbody[:1] in (" ", "\t")
            rule = 0
            if indented:
                rule = 1
            elif cur.tb_open and not is_timestamped(mbody):
                rule = 2
            elif mbody == TRACEBACK and cur.level in SEVERE:
                rule = 3
            elif (
                cur.had_exc
                and cur.last in ("exc", "indent")
                and not mbody.startswith("Traceback")
                and not is_timestamped(mbody)
            ):
                rule = 4
            if rule:
                cur.bodies.append(body)
                if dedup and not cur.repeat_seen:
                    cur.repeat, cur.repeat_seen = int(dedup.group("n")), True
                if rule == 1:
                    cur.last = "indent"
                elif rule == 2:
                    if is_exception_line(mbody):  # the exception line closes the traceback
                        cur.tb_open, cur.last, cur.had_exc = False, "exc", True
                    else:
                        cur.last = "other"
                elif rule == 3:
                    cur.tb_open, cur.last = True, "other"
                else:
                    cur.last = "exc"  # rule 4 lines chain: the next may follow them
                return None
        ts, level = self.clock.parse(mbody)
        rec = Record(self.file, self.lineno, prefix, source, pid, ip, ts, level, [body])
        if dedup:
            rec.repeat, rec.repeat_seen = int(dedup.group("n")), True
        if mbody == TRACEBACK:
            rec.tb_open = True
        elif mbody[:1] in (" ", "\t"):
            rec.last = "indent"
        elif ts is None and is_exception_line(mbody):
            rec.last, rec.had_exc = "exc", True
        self.open = rec
        return cur
