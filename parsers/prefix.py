"""One physical line -> its Ray prefix, body, timestamp, level and dedup count.

Ray's driver prefixes: ``(Name pid=N, ip=A)``, ``(pid=gcs_server)``, ``(raylet[, ip=A])``,
``(autoscaler +1h2m3s)``; timestamps: Python logging, Ray C++, glog and ISO-8601 (shared/DESIGN.md).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PREFIX_RAYLET = re.compile(r"\((?P<name>raylet)(?:, ip=(?P<ip>[^\s)]+))?\)(?: |$)")
PREFIX_AUTOSCALER = re.compile(r"\((?P<name>autoscaler) \+(?:\d+h)?(?:\d+m)?(?:\d+s)?\)(?: |$)")
PREFIX_PID = re.compile(r"\((?:(?P<name>.*?) )?pid=(?P<pid>\w+)(?:, ip=(?P<ip>[^\s)]+))?\)(?: |$)")

_LEVEL_WORD = r"(?P<lvl>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b"
TS_PY = re.compile(
    r"(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(?P<ms>\d{3})(?:[ \t]+" + _LEVEL_WORD + ")?"
)
TS_CPP = re.compile(
    r"\[(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(?P<ms>\d{3}) (?P<lvl>[DIWECFT]) -?\d+ -?\d+\]"
)
TS_GLOG = re.compile(r"(?P<lvl>[DIWECF])(?P<ts>\d{8} \d{2}:\d{2}:\d{2})(?:\.(?P<ms>\d+))?\b")
TS_ISO = re.compile(
    r"(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[.,](?P<ms>\d+))?(?P<tz>Z|[+-]\d{2}:?\d{2})?"
    r"(?:[ \t]+" + _LEVEL_WORD + ")?"
)
LEVELS = {
    "T": "DEBUG", "D": "DEBUG", "I": "INFO", "W": "WARNING", "E": "ERROR", "C": "FATAL", "F": "FATAL",
    "DEBUG": "DEBUG", "INFO": "INFO", "WARN": "WARNING", "WARNING": "WARNING", "ERROR": "ERROR",
    "CRITICAL": "FATAL", "FATAL": "FATAL",
}  # fmt: skip
DEDUP = re.compile(r"\s*\[repeated (?P<n>\d+)x across cluster\].*\Z", re.S)
EXCEPTION_NAME = re.compile(
    r"(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning|Failure)(?:\([\w.]*\))?"
)
TRACEBACK = "Traceback (most recent call last):"


def split_prefix(line: str) -> tuple[str | None, str | None, str | None, str | None, str]:
    """``line`` -> (prefix text, source name, pid text, ip, body).

    >>> split_prefix("(_RayActorHost pid=12, ip=10.0.0.1) hello")
    ('(_RayActorHost pid=12, ip=10.0.0.1)', '_RayActorHost', '12', '10.0.0.1', 'hello')
    """
    if not line.startswith("("):
        return None, None, None, None, line
    for rx in (PREFIX_RAYLET, PREFIX_AUTOSCALER, PREFIX_PID):
        m = rx.match(line)
        if m:
            end = m.end()
            prefix = line[:end].rstrip(" ")
            name = m.group("name")
            pid = m.group("pid") if rx is PREFIX_PID else None
            if rx is PREFIX_PID and not name and pid and not pid.isdigit():
                name = pid  # (pid=gcs_server): the word is the source
            return prefix, name, pid, m.groupdict().get("ip"), line[end:]
    return None, None, None, None, line


class Clock:
    """Turns timestamp text into epoch milliseconds (UTC), caching per second of text."""

    def __init__(self, tz: tzinfo = UTC):
        self.tz = tz
        self._cache: dict[str, int] = {}
        self._days: dict[str, int] = {}

    def parse(self, body: str) -> tuple[int | None, str | None]:
        """Body -> (epoch ms or None, level or None), from the timestamp the body starts with."""
        c = body[:1]
        if c.isdigit():
            m = TS_PY.match(body)
            if m:
                return self._ms(m.group("ts"), "%Y-%m-%d %H:%M:%S", m.group("ms")), LEVELS.get(
                    m.group("lvl") or ""
                )
            m = TS_ISO.match(body)
            if m:
                return self._iso(m), LEVELS.get(m.group("lvl") or "")
        elif c == "[":
            m = TS_CPP.match(body)
            if m:
                return self._ms(m.group("ts"), "%Y-%m-%d %H:%M:%S", m.group("ms")), LEVELS[
                    m.group("lvl")
                ]
        elif c in "DIWECF":
            m = TS_GLOG.match(body)
            if m:
                return self._ms(
                    m.group("ts"), "%Y%m%d %H:%M:%S", (m.group("ms") or "0")[:3].ljust(3, "0")
                ), LEVELS[m.group("lvl")]
        return None, None

    def _ms(self, text: str, fmt: str, ms: str) -> int:
        if self.tz is UTC and fmt[2] == "-":  # "%Y-%m-%d ...": day from a cache, time by arithmetic
            day = self._days.get(text[:10])
            if day is None:
                day = self._days[text[:10]] = int(
                    datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
                )
            clock = int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
            return (day + clock) * 1000 + int(ms)
        sec = self._cache.get(text)
        if sec is None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            sec = int(datetime.strptime(text, fmt).replace(tzinfo=self.tz).timestamp())
            self._cache[text] = sec
        return sec * 1000 + int(ms)

    def _iso(self, m: re.Match) -> int:
        frac = (m.group("ms") or "0")[:3].ljust(3, "0")
        tz = m.group("tz")
        if not tz:
            return self._ms(m.group("ts"), "%Y-%m-%dT%H:%M:%S", frac)
        offset = tz.replace("Z", "+00:00")
        aware = datetime.fromisoformat(m.group("ts") + offset)
        return int(aware.timestamp()) * 1000 + int(frac)


def is_exception_line(body: str) -> bool:
    """``ValueError: bad``, ``ray.exceptions.RayTaskError(ActorDiedError): ...``, ``KeyboardInterrupt``.

    The name is matched on a bounded prefix: on a single 50 MB line an unbounded ``\\w*`` would
    backtrack for hours.
    """
    m = EXCEPTION_NAME.match(body[:512])
    if m is None:
        return False
    rest = body[m.end() :]
    return rest == "" or rest == ":" or rest.startswith(": ")


def is_timestamped(body: str) -> bool:
    c = body[:1]
    if c.isdigit():
        return bool(TS_PY.match(body) or TS_ISO.match(body))
    if c == "[":
        return bool(TS_CPP.match(body))
    if c in "DIWECF":
        return bool(TS_GLOG.match(body))
    return False
