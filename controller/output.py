"""What the commands print: text for people, JSON for machines (each field documented in
docs/operations.md), workflow annotations for GitHub. Pure rendering: it builds strings and
dictionaries from results and never prints, reads or decides.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from controller.core.model import State
from controller.errors import Problem, failing

if TYPE_CHECKING:
    from controller.core.assess import Assessment, ReleaseStatus

JSON_VERSION = 1  # raised when a field changes meaning or goes away; new fields do not raise it


def size_text(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return ""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- validate ------------------------------------------------------------------------------------


def problem_json(p: Problem) -> dict:
    return {"file": p.file, "line": p.line, "pointer": p.pointer, "rule": p.rule, "level": p.level,
            "message": p.message, "hint": p.hint}


def annotation(p: Problem) -> str:
    """A GitHub workflow command that puts the problem on its line of the pull request."""
    def escape(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    props = f"file={escape(p.file)}"
    if p.line is not None:
        props += f",line={p.line}"
    props += f",title={escape(p.rule)}"
    message = p.message + (f". Fix: {p.hint}" if p.hint else "")
    return f"::{p.level} {props}::{escape(message)}"


# --- status --------------------------------------------------------------------------------------


def overdue(status: ReleaseStatus, now: datetime) -> list[str]:
    """The names of the release's steps that are running past their deadline."""
    return [t.name for t in status.timers if t.finished is None and t.is_overdue(now)]


def check_findings(result: Assessment, statuses: list[ReleaseStatus], now: datetime,
                   served: list[str] | None = None) -> list[str]:
    """What `status --check` fails on: a step overdue, an ingestion failed, a problem found, a
    channel whose self-check failed (``served``)."""
    found = list(served or [])
    for s in sorted(statuses, key=lambda s: s.key):
        found += [f"{s.key}: {name} is overdue" for name in overdue(s, now)]
        if s.state == State.INGEST_FAILED:
            found.append(f"{s.key}: ingestion failed")
        found += [f"{s.key}: {p.render()}" for p in failing(s.findings)]
    keys = {s.key for s in statuses}
    if len(keys) == len(result.statuses):
        found += [p.render() for p in failing(result.findings)
                  if not any(p.file.startswith(f"releases/{k}/") for k in keys)]
    return found


def status_json(s: ReleaseStatus, now: datetime) -> dict:
    return {
        "release": s.key, "state": s.state.value, "since": _iso(s.since), "channel": s.channel,
        "waiting_for": s.waiting_for, "next_actor": s.next_actor,
        "timers": [{"name": t.name, "started": _iso(t.started), "deadline": _iso(t.deadline),
                    "finished": _iso(t.finished), "overdue": t.is_overdue(now)} for t in s.timers],
        "problems": [problem_json(p) for p in s.findings],
        "installability": installability_json(s),
    }


def installability_json(s: ReleaseStatus) -> dict | None:
    """The installability check (null where the controller does not run it)."""
    v = s.installability
    if v is None:
        return None
    return {"state": v.state, "summary": v.text, "at": _iso(v.at), "waiver": v.waiver,
            "missing": [{"repository": m.repository, "arch": m.arch, "package": m.package, "requires": m.requires}
                        for m in v.missing]}


def status_document(result: Assessment, statuses: list[ReleaseStatus], now: datetime,
                    undelivered: list[dict] | None, served: list[str] | None = None) -> dict:
    return {"version": JSON_VERSION, "now": now.isoformat(),
            "releases": [status_json(s, now) for s in sorted(statuses, key=lambda s: s.key)],
            "undelivered": undelivered or [], "check": check_findings(result, statuses, now, served)}


def render_status(result: Assessment, statuses: list[ReleaseStatus], now: datetime,
                  undelivered: list[dict] | None = None, served: list[str] | None = None) -> str:
    lines = [f"{line} (the next reconcile publishes it again)" for line in served or []]
    for s in sorted(statuses, key=lambda s: s.key):
        since = f" since {s.since:%Y-%m-%d %H:%M} UTC" if s.since else ""
        channel = f" [{s.channel}]" if s.channel else ""
        lines.append(f"{s.key}: {s.state.value}{since}{channel}")
        lines.append(f"  waiting for: {s.waiting_for}")
        lines.append(f"  next: {s.next_actor}")
        for t in s.timers:
            if t.finished:
                verdict = "late" if t.is_overdue(now) else "met"
                lines.append(f"  {t.name}: {verdict}, done {t.finished:%Y-%m-%d %H:%M}, "
                             f"deadline {t.deadline:%Y-%m-%d %H:%M}")
            else:
                verdict = "OVERDUE" if t.is_overdue(now) else "running"
                lines.append(f"  {t.name}: {verdict}, deadline {t.deadline:%Y-%m-%d %H:%M}")
        if s.installability is not None:
            lines.append(f"  installability: {s.installability.text}")
        for p in s.findings:
            lines.append(f"  problem: {p.render()} [{p.rule}]")
    lines += _freeze_lines(result, now)
    others = [p for p in result.findings if not any(p.file.startswith(f"releases/{s.key}/") for s in statuses)]
    if others and len(statuses) == len(result.statuses):
        lines.append("other problems:")
        lines += [f"  {p.render()} [{p.rule}]" for p in others]
    if undelivered:
        lines.append("undelivered messages (not retried; the managers were told):")
        lines += [f"  {d['subject']} to {', '.join(d['recipients'])}: {d['reason']}" for d in undelivered]
    return "\n".join(lines) if lines else "no releases"


def _freeze_lines(result: Assessment, now: datetime) -> list[str]:
    """The freezes in force or to come, and every lift with who made it (the audit trail)."""
    lines = []
    for f in result.freezes:
        if f.lifted is None and f.end is not None and f.end <= now:
            continue
        stacks = ", ".join(sorted(f.stacks)) if f.stacks else "every stack"
        emergencies = "emergencies pass" if f.emergencies_pass else "emergencies held"
        lines.append(f"  {f.name}: from {f.start:%Y-%m-%d %H:%M} UTC until {f.until_text()}; {stacks}; "
                     f"{emergencies} ({f.reason})")
        if f.lifted is not None:
            lines.append(f"    lifted by {f.lifted.by} at {f.lifted.at:%Y-%m-%d %H:%M} UTC in commit "
                         f"{f.lifted.commit}: {f.lifted.reason}")
    return ["freezes:", *lines] if lines else []


# --- plan and reconcile --------------------------------------------------------------------------


def _channel_line(action, verbose: bool) -> str:
    if verbose:
        return action.describe()
    added = sum(len(names) for names in action.added.values())
    removed = sum(len(names) for names in action.removed.values())
    counts = ", ".join(part for part in (f"+{added} package(s)" if added else "",
                                         f"-{removed} package(s)" if removed else "") if part)
    return f"publish {action.channel.value}: {action.reason}" + (f" ({counts})" if counts else "")


def _fetch_lines(fetches, verb: str, verbose: bool) -> list[str]:
    if not fetches:
        return []
    size = sum(f.package.size for f in fetches)
    releases = sorted({f.release for f in fetches})
    lines = [f"{verb} {len(fetches)} package(s), {size_text(size)}, for {len(releases)} release(s)"]
    if verbose:
        lines += [f"  {f.package.filename} ({f.release})" for f in fetches]
    return lines


def _changes(state_changes) -> list[str]:
    return [f"{key}: {before or 'new'} -> {after}" for key, before, after in state_changes]


def render_plan(planned, verbose: bool = False) -> str:
    plan = planned.plan
    lines = _fetch_lines(planned.fetches, "fetch", verbose)
    lines += [_channel_line(a, verbose) for a in planned.actions]
    lines += [d.describe() for d in plan.documents]
    if plan.site is not None:
        lines.append(plan.site.describe())
    lines += [m.describe() for m in plan.messages if not m.restricted]
    lines += [m.describe() for m in plan.moves]
    lines += plan.withheld()  # embargoed releases: counts only
    lines += _changes(planned.state_changes)
    return "\n".join(lines) if lines else "nothing to do: every channel matches the branch"


def _channels_json(actions) -> list[dict]:
    return [{"channel": a.channel.value, "reason": a.reason, "added": a.added, "removed": a.removed}
            for a in actions]


def _changes_json(state_changes) -> list[dict]:
    return [{"release": key, "from": before, "to": after} for key, before, after in state_changes]


def _fetch_json(f) -> dict:
    return {"release": f.release, "filename": f.package.filename, "size": f.package.size,
            "sha256": f.package.sha256, "source": f.package.url or f.package.path}


def plan_document(planned, now: datetime) -> dict:
    plan = planned.plan
    return {"version": JSON_VERSION, "command": "plan", "now": now.isoformat(),
            "commit": planned.world.snapshot.head.id,
            "fetches": [_fetch_json(f) for f in planned.fetches],
            "channels": _channels_json(planned.actions),
            "documents": [d.name for d in plan.documents],
            "site": plan.site is not None,
            "messages": [{"key": m.key, "subject": m.subject, "recipients": list(m.recipients)}
                         for m in plan.messages if not m.restricted],
            "moves": [{"release": m.release, "filename": m.filename, "sha256": m.sha256} for m in plan.moves],
            "withheld": plan.withheld(),
            "state_changes": _changes_json(planned.state_changes)}


def reconcile_document(outcome, now: datetime, seconds: float) -> dict:
    planned = outcome.plan
    fetched = set(outcome.fetched)
    return {"version": JSON_VERSION, "command": "reconcile", "now": now.isoformat(),
            "commit": planned.world.snapshot.head.id if planned else None,
            "changed": outcome.changed,
            "fetched": [_fetch_json(f) for f in planned.fetches if f.package.filename in fetched] if planned else [],
            "failures": [{"release": key, "reason": reason} for key, reason in sorted(outcome.failures.items())],
            "channels": _channels_json(planned.actions) if planned else [],
            "documents": [d.name for d in planned.plan.documents] if planned else [],
            "site": bool(planned and planned.plan.site is not None),
            "notified": list(outcome.notified),
            "moves": [{"release": m.release, "filename": m.filename, "sha256": m.sha256}
                      for m in planned.plan.moves] if planned else [],
            "withheld": list(outcome.withheld),
            "state_changes": _changes_json(planned.state_changes) if planned else [],
            "self_check": [{"channel": channel, "ok": not problems, "problems": problems}
                           for channel, problems in sorted(outcome.self_check.items())],
            "notes": list(outcome.notes), "seconds": round(seconds, 3)}


def render_outcome(outcome, verbose: bool = False) -> str:
    planned = outcome.plan
    if not outcome.changed and not outcome.failed:
        return "nothing to do: every channel matches the branch"
    fetched = set(outcome.fetched)
    lines = _fetch_lines([f for f in planned.fetches if f.package.filename in fetched], "fetched", verbose)
    lines += [_channel_line(a, verbose) for a in planned.actions]
    lines += [f"notified: {key}" for key in outcome.notified]
    lines += [f"self-check: {channel} differs from the plan; switched back" for channel, problems
              in sorted(outcome.self_check.items()) if problems]
    lines += [m.describe() for m in planned.plan.moves]
    lines += outcome.withheld  # embargoed releases: counts only
    lines += _changes(planned.state_changes)
    return "\n".join(lines)


def summary_line(outcome, seconds: float) -> str:
    """One line that tells a CI log what the run did."""
    planned = outcome.plan
    if planned is None:
        return f"reconcile: nothing can have changed since the last run ({seconds:.1f} s)"
    fetched = set(outcome.fetched)
    size = sum(f.package.size for f in planned.fetches if f.package.filename in fetched)
    parts = [f"fetched {len(fetched)} package(s) ({size_text(size)})"]
    if outcome.failures:
        parts.append(f"{len(outcome.failures)} release(s) failed ingestion")
    channels = [a.channel.value for a in planned.actions]
    parts.append(f"published {', '.join(channels)}" if channels else "no channel changed")
    if outcome.self_check:
        wrong = [channel for channel, problems in sorted(outcome.self_check.items()) if problems]
        parts.append(f"self-check failed for {', '.join(wrong)}, switched back" if wrong
                     else f"self-check passed ({len(outcome.self_check)} channel(s))")
    parts.append(f"{len(planned.state_changes)} state change(s)")
    parts.append(f"{len(outcome.notified)} message(s) sent")
    if outcome.withheld:
        parts.append(f"{len(outcome.withheld)} step(s) for embargoed releases, details withheld")
    return f"reconcile: {'; '.join(parts)} ({seconds:.1f} s)"
