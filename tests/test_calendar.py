"""Public holidays from the holidays package for the country (and subdivision) calendar.yaml names,
for any year, plus the federation's own closing days."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import TOP, manifest

from controller import app
from controller.core.model import Calendar
from controller.core.workdays import add_working_hours

NL = Calendar("Europe/Amsterdam", (5, 6), (), "08:00", "16:00", "NL")


def test_a_public_holiday_nobody_typed_in_moves_the_deadline():
    # Monday 26 April 2032, 15:00 in Amsterdam: one working hour left that day. Tuesday the 27th
    # is King's Day, so the other seven run on Wednesday.
    monday = datetime(2032, 4, 26, 13, tzinfo=UTC)
    assert add_working_hours(NL, monday, 8) == datetime(2032, 4, 28, 13, tzinfo=UTC)
    no_country = Calendar("Europe/Amsterdam", (5, 6), (), "08:00", "16:00")
    assert add_working_hours(no_country, monday, 8) == datetime(2032, 4, 27, 13, tzinfo=UTC)


def test_a_subdivision_adds_its_own_holidays_and_closing_days_add_to_both():
    # 6 January 2031 (Monday) is Epiphany in Bavaria, a working day in Berlin.
    monday = datetime(2031, 1, 6, 7, tzinfo=UTC)
    bavaria = Calendar("Europe/Berlin", (5, 6), (), "08:00", "16:00", "DE", "BY")
    berlin = Calendar("Europe/Berlin", (5, 6), (), "08:00", "16:00", "DE", "BE")
    assert add_working_hours(bavaria, monday, 8) == datetime(2031, 1, 7, 15, tzinfo=UTC)
    assert add_working_hours(berlin, monday, 8) == datetime(2031, 1, 6, 15, tzinfo=UTC)
    closed = Calendar("Europe/Berlin", (5, 6), ("2031-01-06",), "08:00", "16:00", "DE", "BE")
    assert add_working_hours(closed, monday, 8) == datetime(2031, 1, 7, 15, tzinfo=UTC)


def _calendar(country_lines: str) -> bytes:
    text = (TOP / "repos-config/calendar.yaml").read_text().replace("country: NL\n", country_lines)
    return text.encode()


def test_status_deadlines_follow_the_country_named_in_the_calendar(story):
    # Merged on Monday 26 April 2032 at 15:00 in Amsterdam: ingestion (four working hours) has
    # one hour that day; King's Day stops the clock, so the other three run on Wednesday.
    doc = manifest(version="1.7.9", category="revision")
    story.commit("andrea", "2032-04-26T13:00:00Z", {"releases/argus/1.7.9/release.yaml": doc})

    def deadline() -> datetime:
        status = app.status(str(story.path), "HEAD", datetime(2032, 4, 26, 14, tzinfo=UTC))
        return next(t.deadline for t in status.statuses["argus/1.7.9"].timers if t.name == "step 1: ingestion")

    assert deadline() == datetime(2032, 4, 28, 9, tzinfo=UTC)
    story.commit("maria", "2032-04-26T13:30:00Z", {"repos-config/calendar.yaml": _calendar("")})
    assert deadline() == datetime(2032, 4, 27, 9, tzinfo=UTC)


def test_an_unknown_country_or_subdivision_is_reported_with_the_fix(story):
    story.commit("maria", "2026-11-02T08:00:00Z", {"repos-config/calendar.yaml": _calendar("country: XY\n")})
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    [problem] = [p for p in app.validate(str(story.path), "HEAD", now).problems if p.rule == "calendar-country"]
    assert (problem.file, problem.pointer, problem.line) == ("repos-config/calendar.yaml", "/country", 8)
    assert "country 'XY' has no public-holiday calendar" in problem.message
    story.commit("maria", "2026-11-02T08:30:00Z",
                 {"repos-config/calendar.yaml": _calendar("country: DE\nsubdivision: XX\n")})
    [problem] = [p for p in app.validate(str(story.path), "HEAD", now).problems if p.rule == "calendar-country"]
    assert "DE has no subdivision 'XX'" in problem.message and "BY" in problem.hint
