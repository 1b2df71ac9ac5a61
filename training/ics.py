"""The ICS calendar feed, written by hand (RFC 5545): the format is small."""

from datetime import UTC, datetime, timedelta


def _ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r", "").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 §3.1: lines longer than 75 octets continue on the next line after a space."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)


def render_ics(user, sessions, *, host: str = "trainingportal") -> bytes:
    """The feed as iCalendar text, written by hand: the format is small and needs no extra package."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//trainingportal//training sessions//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_ics_text('trainingportal sessions')}",
    ]
    for s in sessions:
        start = s.starts_at.astimezone(UTC)
        end = start + timedelta(minutes=s.duration_minutes)
        description = f"{s.get_type_display()} · {s.get_delivery_display()} · {s.program.name} · mentor {s.mentor}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:session-{s.pk}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            f"DTEND:{end:%Y%m%dT%H%M%SZ}",
            f"SUMMARY:{_ics_text(s.title)}",
            f"DESCRIPTION:{_ics_text(description)}",
        ]
        if s.link:
            lines += [f"URL:{s.link}", f"LOCATION:{_ics_text(s.link)}"]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
