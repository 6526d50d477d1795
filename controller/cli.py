"""rolloutctl: arguments in, text or JSON out, exceptions to exit codes. Decides nothing.

Exit codes: 0 fine, 1 findings, 2 usage or bad input, 3 an external tool failed, 4 transient
(try again), 70 a bug in rolloutctl.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from datetime import UTC, date, datetime
from pathlib import Path

from controller import __version__, app
from controller.core.assess import Assessment, ReleaseStatus
from controller.errors import BadInput, ControllerError, Problem, failing


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time such as 2026-11-24T09:00:00Z") from None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date such as 2026-11-24") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rolloutctl", description="Staged-rollout release controller.")
    parser.add_argument("--version", action="version", version=f"rolloutctl {__version__}")
    parser.add_argument("--repo", default=".", help="the release repository (default: the current directory)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    v = sub.add_parser("validate", help="schema and policy check of the repository or of a pull request")
    v.add_argument("--base", metavar="REV", help="check only what changed since REV, as a pull request would")
    v.add_argument("--at", metavar="REV", default="HEAD", help="the commit to check (default HEAD)")
    v.add_argument("--now", type=_instant, metavar="TIME", help="the time to evaluate timers at (default: now)")
    v.add_argument("--format", choices=("text", "json", "github"), default="text")

    s = sub.add_parser("status", help="where each release stands, what it waits for and who acts next")
    s.add_argument("release", nargs="?", metavar="RELEASE", help="component/version (default: all)")
    s.add_argument("--at", metavar="REV", default="HEAD", help="the commit to read (default HEAD)")
    s.add_argument("--now", type=_instant, metavar="TIME", help="the time to evaluate timers at (default: now)")
    s.add_argument("--format", choices=("text", "json"), default="text")
    s.add_argument("--publish-dir", type=Path, help="read ingestion from this publish directory's pool")
    s.add_argument("--state-dir", type=Path, help="reconcile's state directory (default: beside --publish-dir)")

    for name, text in (("plan", "what a reconcile would change in each channel; writes nothing"),
                       ("reconcile", "fetch, verify and publish the channels to match the branch")):
        c = sub.add_parser(name, help=text)
        c.add_argument("--at", metavar="REV", default="HEAD", help="the commit to reconcile (default HEAD)")
        c.add_argument("--now", type=_instant, metavar="TIME", help="the time to evaluate timers at (default: now)")
        c.add_argument("--publish-dir", type=Path, default=Path("public"), help="the published tree (default ./public)")
        c.add_argument("--state-dir", type=Path,
                       help="locks, caches and ingestion failures (default: PUBLISH_DIR/../.rolloutctl-state)")
        c.add_argument("--base-url", help="where the publish directory is served, for client configurations")
        if name == "reconcile":
            c.add_argument("--gnupg-home", type=Path, help="GnuPG home with the signing key (default $GNUPGHOME)")
            c.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                           help="wait this long for another reconcile to finish (default: fail at once)")
    m = sub.add_parser("metrics", help="early-adopter and release metrics from the git history (seed section 4)")
    m.add_argument("--since", type=_day, metavar="DATE", help="first day counted (YYYY-MM-DD)")
    m.add_argument("--until", type=_day, metavar="DATE", help="last day counted (YYYY-MM-DD)")
    m.add_argument("--at", metavar="REV", default="HEAD", help="the commit to read (default HEAD)")
    m.add_argument("--now", type=_instant, metavar="TIME", help="the time to evaluate timers at (default: now)")
    m.add_argument("--format", choices=("text", "json"), default="text")
    m.add_argument("--svg", type=Path, metavar="FILE", help="also write rollout durations per category as SVG")

    g = sub.add_parser("github", help="carry the workflow on GitHub: check a pull request, sync rollout PRs")
    g.add_argument("action", choices=("check", "sync"))
    g.add_argument("--pr", type=int, help="the pull request to check")
    g.add_argument("--base", default="origin/main", metavar="REV", help="the pull request's base (check)")
    g.add_argument("--at", default="HEAD", metavar="REV", help="the pull request's head (check)")
    g.add_argument("--branch", default="main", help="the branch acceptances are committed to (sync)")
    g.add_argument("--github-repo", default=os.environ.get("GITHUB_REPOSITORY"), help="owner/name")
    g.add_argument("--github-api", default=os.environ.get("GITHUB_API_URL", "https://api.github.com"))
    g.add_argument("--head-sha", metavar="SHA", help="report only if the pull request's head is still SHA (check)")
    g.add_argument("--base-url", default="", help="where the channels are served, for rollout PR bodies")
    g.add_argument("--merge-method", choices=("merge", "rebase"), default="merge",
                   help="how the pull requests carrying imported acceptances are merged (sync)")
    g.add_argument("--now", type=_instant, metavar="TIME", help="the time to evaluate timers at (default: now)")

    o = sub.add_parser("codeowners", help="write a CODEOWNERS file from roles.yaml and adopters/")
    o.add_argument("--at", metavar="REV", default="HEAD", help="the commit to read (default HEAD)")
    o.add_argument("--output", type=Path, help="where to write it (default: print it)")

    t = sub.add_parser("report-template", help="a pre-filled report for an early adopter (seed 3.6)")
    t.add_argument("release", metavar="RELEASE", help="component/version")
    t.add_argument("--site", required=True, help="the early-adopter site reporting")
    t.add_argument("--at", metavar="REV", default="HEAD", help="the commit to read (default HEAD)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors, as argparse does
    now = getattr(args, "now", None) or datetime.now(UTC)
    try:
        if args.command == "validate":
            return _validate(args, now)
        if args.command in ("plan", "reconcile"):
            return _reconcile(args, now)
        if args.command == "github":
            return _github(args, now)
        if args.command == "codeowners":
            from controller.core.codeowners import codeowners

            text = codeowners(app.read_world(args.repo, args.at)[0])
            if args.output:
                args.output.write_text(text)
            else:
                print(text, end="")
            return 0
        if args.command == "metrics":
            from controller.core.metrics import render_svg, render_text

            figures = app.metrics(args.repo, args.at, now, args.since, args.until)
            print(json.dumps(figures, indent=2) if args.format == "json" else render_text(figures))
            if args.svg:
                args.svg.write_text(render_svg(figures["rollout_days"]))
            return 0
        if args.command == "report-template":
            from controller.core.report_template import report_template

            print(report_template(app.read_world(args.repo, args.at)[0], args.release, args.site), end="")
            return 0
        return _status(args, now)
    except ControllerError as exc:
        print(f"rolloutctl: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rolloutctl: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: say so plainly, keep the trace for the report
        traceback.print_exc()
        print("rolloutctl: internal error; please report it with the trace above", file=sys.stderr)
        return 70


def _validate(args: argparse.Namespace, now: datetime) -> int:
    result = app.validate(args.repo, args.at, now, args.base)
    if args.format == "json":
        print(json.dumps({"scope": result.scope, "files": result.files_checked,
                          "problems": [_problem_json(p) for p in result.problems]}, indent=2))
    elif args.format == "github":
        for p in result.problems:
            print(_annotation(p))
        print(f"{len(result.problems)} problem(s) in {result.scope}")
    else:
        for p in result.problems:
            print(f"{p.render()} [{p.rule}]")
        errors = len(failing(result.problems))
        verdict = f"{errors} problem(s)" if errors else "no problems"
        if len(result.problems) > errors:
            verdict += f", {len(result.problems) - errors} warning(s)"
        print(f"{verdict} ({result.scope}, {result.files_checked} files)", file=sys.stderr)
    return 1 if failing(result.problems) else 0


def _github(args: argparse.Namespace, now: datetime) -> int:
    from controller.github_sync import check_pull_request, sync_rollouts
    from controller.sources.github import GitHub

    if not args.github_repo:
        raise BadInput("which GitHub repository?", "pass --github-repo owner/name (GITHUB_REPOSITORY in Actions)")
    github = GitHub(args.github_repo, base_url=args.github_api)
    if args.action == "check":
        if args.pr is None:
            raise BadInput("github check needs --pr NUMBER", "pass the pull request number")
        problems = check_pull_request(args.repo, args.at, args.base, args.pr, github, now, args.head_sha)
        if problems is None:
            print(f"rolloutctl: pull request #{args.pr} has moved on from {args.head_sha}; its newer run reports",
                  file=sys.stderr)
            return 0
        for p in problems:
            print(f"{p.render()} [{p.rule}]")
        print(f"{len(problems)} problem(s) in pull request #{args.pr}", file=sys.stderr)
        return 1 if failing(problems) else 0
    outcome = sync_rollouts(args.repo, args.branch, github, now, args.base_url, args.merge_method)
    for key in outcome.opened:
        print(f"opened the rollout pull request of {key}")
    for item in outcome.imported:
        print(f"recorded the acceptance of {item.split()[1]} for {item.split()[0]} on {args.branch}")
    for item in outcome.waiting:
        print(f"acceptance of {item} (make the controller a bypass actor of {args.branch}'s rules, or merge it)",
              file=sys.stderr)
    for key in outcome.closed:
        print(f"closed the rollout pull request of {key}")
    return 0


def _annotation(p: Problem) -> str:
    def escape(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    props = f"file={escape(p.file)}"
    if p.line is not None:
        props += f",line={p.line}"
    props += f",title={escape(p.rule)}"
    message = p.message + (f". Fix: {p.hint}" if p.hint else "")
    return f"::{p.level} {props}::{escape(message)}"


def _problem_json(p: Problem) -> dict:
    return {"file": p.file, "line": p.line, "pointer": p.pointer, "rule": p.rule, "level": p.level,
            "message": p.message, "hint": p.hint}


def _state_dir(args: argparse.Namespace) -> Path:
    return args.state_dir or args.publish_dir.resolve().parent / ".rolloutctl-state"


def _progress(message: str) -> None:
    # Long work shows progress on a terminal and stays quiet in CI and pipes.
    if sys.stderr.isatty() and not os.environ.get("CI"):
        print(f"  {message}", file=sys.stderr)


def _reconcile(args: argparse.Namespace, now: datetime) -> int:
    from controller.notify.mail import SmtpSettings
    from controller.reconcile import Options, make_plan, reconcile

    options = Options(args.repo, args.at, now, args.publish_dir, _state_dir(args),
                      gnupg_home=getattr(args, "gnupg_home", None), base_url=args.base_url,
                      wait=getattr(args, "wait", 0.0), progress=_progress, smtp=SmtpSettings.from_environment())
    if args.command == "plan":
        plan = make_plan(options)
        print(render_plan(plan.fetches, plan.actions, plan.state_changes))
        return 0
    outcome = reconcile(options)
    for note in outcome.notes:
        print(f"note: {note}", file=sys.stderr)
    plan = outcome.plan
    if not outcome.changed and not outcome.failures:
        print("nothing to do: every channel matches the branch")
        return 0
    print(render_plan(plan.fetches, plan.actions, plan.state_changes, done=True))
    for key in outcome.notified:
        print(f"notified: {key}")
    for key, reason in sorted(outcome.failures.items()):
        print(f"ingest failed: {key}: {reason}", file=sys.stderr)
    if plan.actions:
        print(f"published under {args.publish_dir}/: point dnf at <channel>/<repository>.repo, apt at "
              "<channel>/<repository>.sources (serve the directory over http first)")
    return 1 if outcome.failures else 0


def render_plan(fetches, actions, state_changes, done: bool = False) -> str:
    lines = []
    verb = "fetched" if done else "fetch"
    if fetches:
        lines.append(f"{verb} {len(fetches)} package(s):")
        lines += [f"  {f.package.filename} ({f.release})" for f in fetches]
    for action in actions:
        lines.append(action.describe())
    for key, before, after in state_changes:
        lines.append(f"{key}: {before or 'new'} -> {after}")
    return "\n".join(lines) if lines else "nothing to do: every channel matches the branch"


def _status(args: argparse.Namespace, now: datetime) -> int:
    failures = None
    if args.publish_dir is not None:
        from controller.reconcile import read_failures

        failures = read_failures(_state_dir(args))
    result = app.status(args.repo, args.at, now, args.publish_dir, failures)
    statuses = list(result.statuses.values())
    if args.release:
        statuses = [s for s in statuses if s.key == args.release]
        if not statuses:
            known = ", ".join(sorted(result.statuses)) or "none"
            raise BadInput(f"no release {args.release!r} at {args.at}", f"known releases: {known}")
    if args.format == "json":
        print(json.dumps({"now": now.isoformat(), "releases": [_status_json(s, now) for s in statuses]}, indent=2))
    else:
        print(render_status(result, statuses, now))
    return 0


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _status_json(s: ReleaseStatus, now: datetime) -> dict:
    return {
        "release": s.key, "state": s.state.value, "since": _iso(s.since), "channel": s.channel,
        "waiting_for": s.waiting_for, "next_actor": s.next_actor,
        "timers": [{"name": t.name, "started": _iso(t.started), "deadline": _iso(t.deadline),
                    "finished": _iso(t.finished), "overdue": t.is_overdue(now)} for t in s.timers],
        "problems": [_problem_json(p) for p in s.findings],
    }


def render_status(result: Assessment, statuses: list[ReleaseStatus], now: datetime) -> str:
    lines = []
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
        for p in s.findings:
            lines.append(f"  problem: {p.render()} [{p.rule}]")
    others = [p for p in result.findings if not any(p.file.startswith(f"releases/{s.key}/") for s in statuses)]
    if others and len(statuses) == len(result.statuses):
        lines.append("other problems:")
        lines += [f"  {p.render()} [{p.rule}]" for p in others]
    return "\n".join(lines) if lines else "no releases"
