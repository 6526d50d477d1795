"""rolloutctl: arguments in, text or JSON out (rendered by controller.output), exceptions to exit
codes. Decides nothing.

Exit codes: 0 fine, 1 findings, 2 usage or bad input, 3 an external tool failed or a file or
directory could not be written, 4 transient (try again), 70 a bug in rolloutctl, 130 interrupted,
141 the reader of the output went away (as for any program killed by SIGPIPE; nothing is said).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
import time
import traceback
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from controller import __version__
from controller.errors import BadInput, ControllerError, failing

# An OSError with one of these is the machine's answer (a directory that cannot be written, a full
# disk), not a bug: it is said in one line, with what to check.
_ENVIRONMENT = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
                errno.EISDIR, errno.ENAMETOOLONG, errno.EMFILE, errno.ENFILE}


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
    v.add_argument("--publish-dir", help="also judge verifications by the installability checks reconcile recorded "
                                         "for this target (a directory or s3://BUCKET/PREFIX)")
    v.add_argument("--private-dir", help="the publish target's private area (default: beside a local --publish-dir)")

    s = sub.add_parser("status", help="where each release stands, what it waits for and who acts next")
    s.add_argument("release", nargs="?", metavar="RELEASE", help="component/version (default: all)")
    s.add_argument("--at", metavar="REV", default="HEAD", help="the commit to read (default HEAD)")
    s.add_argument("--now", type=_instant, metavar="TIME", help="the time to evaluate timers at (default: now)")
    s.add_argument("--format", choices=("text", "json"), default="text")
    s.add_argument("--publish-dir", help="read ingestion from this target's pool (a directory or s3://BUCKET/PREFIX)")
    s.add_argument("--state-dir", type=Path, help="reconcile's state directory (default: beside --publish-dir)")
    s.add_argument("--check", action="store_true",
                   help="exit 1 when a step is overdue, an ingestion failed or a file has a problem (for monitoring)")
    s.add_argument("-q", "--quiet", action="store_true", help="print no status, only the verdict of --check")
    s.add_argument("--private-dir", help="the publish target's private area (default: beside a local --publish-dir)")
    s.add_argument("--show-embargoed", action="store_true",
                   help="show embargoed releases too (by default counted only: keep this output out of public logs)")

    for name, text in (("plan", "what a reconcile would change in each channel; writes nothing"),
                       ("reconcile", "fetch, verify and publish the channels to match the branch")):
        c = sub.add_parser(name, help=text)
        c.add_argument("--at", metavar="REV", default="HEAD", help="the commit to reconcile (default HEAD)")
        c.add_argument("--now", type=_instant, metavar="TIME", help="the time to evaluate timers at (default: now)")
        c.add_argument("--publish-dir", default="public",
                       help="the published tree: a directory or s3://BUCKET/PREFIX (default ./public)")
        c.add_argument("--private-dir", help="never served: the ledger, ingestion failures, the throwaway key "
                       "(default: .NAME-private beside a local --publish-dir; required for s3://)")
        c.add_argument("--private-publish-dir", metavar="DIR|s3://BUCKET/PREFIX",
                       help="publish the private channel of embargoed releases here (serve it with access control)")
        c.add_argument("--private-base-url", metavar="URL", help="where the private channel is served")
        c.add_argument("--state-dir", type=Path,
                       help="locks, caches and ingestion failures (default: PUBLISH_DIR/../.rolloutctl-state)")
        c.add_argument("--base-url", help="where the publish directory is served, for client configurations")
        c.add_argument("--format", choices=("text", "json"), default="text")
        c.add_argument("-q", "--quiet", action="store_true", help="print only the summary line (and errors)")
        c.add_argument("-v", "--verbose", action="store_true", help="list every package, not counts")
        if name == "reconcile":
            c.add_argument("--gnupg-home", type=Path, help="GnuPG home with the signing key (default $GNUPGHOME)")
            c.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                           help="wait this long for another reconcile to finish (default: fail at once)")
            c.add_argument("--fetch-deadline", type=float, metavar="SECONDS",
                           help="stop downloading after this long; what is missing is retried next run "
                                "(default 1800)")
            c.add_argument("--self-check", choices=("auto", "off", "dnf", "apt", "both"), default="auto",
                           help="read each channel published back through --base-url with real dnf and apt "
                                "(default auto: the clients installed here)")
        c.add_argument("--installability", choices=("auto", "off"), default="auto",
                       help="check that releases waiting for verification install into Staged Rollout with "
                            "Production (dnf repoclosure, apt); off: record them as not checked (default auto)")
    k = sub.add_parser("gc", help="delete what no kept generation names (retention: repos-config/repositories.yaml)")
    k.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    k.add_argument("--at", metavar="REV", default="HEAD", help="the commit whose releases and config count")
    k.add_argument("--now", type=_instant, metavar="TIME", help="the time retention is measured at (default: now)")
    k.add_argument("--publish-dir", default="public", help="the published tree: a directory or s3://BUCKET/PREFIX")
    k.add_argument("--private-dir", help="the target's private area (default: beside a local --publish-dir)")
    k.add_argument("--state-dir", type=Path, help="reconcile's state directory (default: beside --publish-dir)")
    k.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for a reconcile")
    k.add_argument("-v", "--verbose", action="store_true", help="list every object deleted")

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
    # CI systems pass an unset variable as an empty one: empty means unset.
    g.add_argument("--github-repo", default=os.environ.get("GITHUB_REPOSITORY") or None, help="owner/name")
    g.add_argument("--github-api", default=os.environ.get("GITHUB_API_URL") or "https://api.github.com",
                   help="the GitHub API (default $GITHUB_API_URL, or https://api.github.com)")
    g.add_argument("--head-sha", metavar="SHA", help="report only if the pull request's head is still SHA (check)")
    g.add_argument("--base-url", default="", help="where the channels are served, for rollout PR bodies")
    g.add_argument("--merge-method", choices=("merge", "rebase"), default="merge",
                   help="how the pull requests carrying imported acceptances are merged (sync)")
    g.add_argument("--now", type=_instant, metavar="TIME", help="the time to evaluate timers at (default: now)")
    g.add_argument("--publish-dir", help="also judge verifications by the installability checks reconcile recorded "
                                         "for this target (check)")
    g.add_argument("--private-dir", help="the publish target's private area (default: beside a local --publish-dir)")

    o = sub.add_parser("codeowners", help="write a CODEOWNERS file from roles.yaml and adopters/")
    o.add_argument("--at", metavar="REV", default="HEAD", help="the commit to read (default HEAD)")
    o.add_argument("--output", type=Path, help="where to write it (default: print it)")

    t = sub.add_parser("report-template", help="a pre-filled report for an early adopter (seed 3.6)")
    t.add_argument("release", metavar="RELEASE", help="component/version")
    t.add_argument("--site", required=True, help="the early-adopter site reporting")
    t.add_argument("--at", metavar="REV", default="HEAD", help="the commit to read (default HEAD)")

    i = sub.add_parser("init", help="a new federation repository: repos-config, an example, schemas, workflows")
    i.add_argument("directory", type=Path, metavar="DIR")
    i.add_argument("--name", help="the distribution's name, e.g. UMD")
    i.add_argument("--country", help="ISO 3166 code whose public holidays stop the timers, e.g. NL")
    i.add_argument("--subdivision", help="a state or province with holidays of its own, e.g. BY")
    i.add_argument("--timezone", default="UTC", help="IANA time zone of the working day (default UTC)")
    i.add_argument("--update", action="store_true",
                   help="in an existing federation repository: bring schemas/, the workflows and CODEOWNERS up to date")

    r = sub.add_parser("release", help="write a provider's files: release new")
    n = r.add_subparsers(dest="release_command", required=True, metavar="ACTION").add_parser(
        "new", help="write release.yaml from the package files: every package field read from the packages")
    n.add_argument("component")
    n.add_argument("version")
    n.add_argument("--package", action="append", required=True, metavar="FILE|URL",
                   help="a built .rpm or .deb (copied into the release's packages/) or its URL (fetched once); "
                        "repeat for each package")
    n.add_argument("--at", metavar="REV", default="HEAD", help="the commit whose releases and config to read")
    n.add_argument("--output", type=Path, help="where to write (default releases/COMPONENT/VERSION/release.yaml)")
    n.add_argument("--force", action="store_true", help="overwrite an existing file")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors, as argparse does
    now = getattr(args, "now", None) or datetime.now(UTC)
    try:
        code = _run(args, now)
        sys.stdout.flush()  # here, so that a closed pipe is seen while it can still be handled
        return code
    except BrokenPipeError:
        # The reader went away (``rolloutctl status | head -1``): stop quietly, as a program killed
        # by SIGPIPE does; what remains unwritten goes nowhere instead of failing at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except ControllerError as exc:
        _say(exc.render())
        return exc.exit_code
    except OSError as exc:
        if exc.errno not in _ENVIRONMENT:
            return _bug()
        where = exc.filename or "a file"
        _say(f"cannot write {where}: {exc.strerror}\n  hint: check that the directories rolloutctl writes "
             "(--publish-dir, --state-dir, --output, --svg) exist and that this user may write them")
        return 3
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except Exception:
        return _bug()


def _init(args: argparse.Namespace) -> int:
    from controller.authoring import init
    from controller.core.federation import Federation

    if not args.update and not (args.name and args.country):
        raise BadInput("init needs --name and --country", "e.g. rolloutctl init DIR --name UMD --country NL "
                       "--timezone Europe/Amsterdam")
    federation = Federation(args.name or "", args.country or "", args.subdivision, args.timezone)
    written = init(args.directory, federation, args.update)
    for path in written:
        print(f"wrote {args.directory / path}")
    if not args.update:
        print(f"next: cd {args.directory}; replace the examples (see README.md); rolloutctl validate; "
              "git add -A; git commit")
    elif not written:
        print("everything is up to date")
    return 0


def _release_new(args: argparse.Namespace) -> int:
    from controller.authoring import release_new

    written = release_new(args.repo, args.at, args.component, args.version, args.package, args.output, args.force)
    print(f"wrote {written.path} with {written.packages} package(s)")
    if written.blanks:
        print("still to write (validate refuses every FILL-IN): " + ", ".join(written.blanks))
    return 0


def _say(text: str) -> None:
    with contextlib.suppress(OSError):  # standard error is gone too: the exit code says it
        print(f"rolloutctl: {text}", file=sys.stderr)


def _bug() -> int:
    """A bug: say so plainly, keep the trace for the report."""
    traceback.print_exc()
    _say("internal error; please report it with the trace above")
    return 70


def _run(args: argparse.Namespace, now: datetime) -> int:
    # Each command imports what it uses when it runs: --help, --version and a reconcile that
    # stops at once load neither the model's reader nor the planner.
    if args.command == "validate":
        return _validate(args, now)
    if args.command in ("plan", "reconcile"):
        return _reconcile(args, now)
    if args.command == "github":
        return _github(args, now)
    if args.command == "gc":
        return _gc(args, now)
    if args.command == "release":
        return _release_new(args)
    if args.command == "init":
        return _init(args)
    if args.command == "status":
        return _status(args, now)
    from controller import app

    if args.command == "codeowners":
        from controller.core.codeowners import codeowners

        text = codeowners(app.read_world(args.repo, args.at)[0])
        if args.output:
            _write(args.output, text)
        else:
            print(text, end="")
        return 0
    if args.command == "metrics":
        from controller.core.metrics import render_svg, render_text

        figures = app.metrics(args.repo, args.at, now, args.since, args.until)
        print(json.dumps(figures, indent=2) if args.format == "json" else render_text(figures))
        if args.svg:
            _write(args.svg, render_svg(figures["rollout_days"]))
        return 0
    from controller.core.report_template import report_template

    print(report_template(app.read_world(args.repo, args.at)[0], args.release, args.site), end="")
    return 0


def _local_store(path: Path):
    from controller.publish.local import LocalTarget

    return LocalTarget(path)


def _write(path: Path, text: str) -> None:
    """Write an output file the user named (an OSError past a missing directory is the machine's)."""
    try:
        path.write_text(text)
    except FileNotFoundError:
        raise BadInput(f"cannot write {path}: the directory {path.parent} does not exist",
                       "create it, or name a file in an existing directory") from None


def _recorded_gate(args: argparse.Namespace):
    """The installability results reconcile recorded for --publish-dir, if it was given."""
    if args.publish_dir is None:
        return None
    from controller.apply.gate import read_gate
    from controller.apply.state import state_store

    return read_gate(state_store(args.publish_dir, args.private_dir))


def _validate(args: argparse.Namespace, now: datetime) -> int:
    from controller import app, output

    result = app.validate(args.repo, args.at, now, args.base, _recorded_gate(args))
    if args.format == "json":
        print(json.dumps({"scope": result.scope, "files": result.files_checked, "notes": result.notes,
                          "problems": [output.problem_json(p) for p in result.problems]}, indent=2))
    elif args.format == "github":
        for note in result.notes:
            print(f"::notice title=rolloutctl::{note}")
        for p in result.problems:
            print(output.annotation(p))
        print(f"{len(result.problems)} problem(s) in {result.scope}")
    else:
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
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
        problems = check_pull_request(args.repo, args.at, args.base, args.pr, github, now, args.head_sha,
                                      _recorded_gate(args))
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


def _state_dir(args: argparse.Namespace) -> Path:
    if args.state_dir:
        return args.state_dir
    if args.publish_dir.startswith("s3://"):
        return Path(".rolloutctl-state")
    return Path(args.publish_dir).resolve().parent / ".rolloutctl-state"


def _progress(args: argparse.Namespace):
    """A live display on a terminal; silence in CI, in pipes and with --quiet."""
    from controller.progress import Progress, TerminalProgress

    if args.quiet or args.format == "json" or not sys.stderr.isatty() or os.environ.get("CI"):
        return Progress()
    return TerminalProgress(sys.stderr)


def _reconcile(args: argparse.Namespace, now: datetime) -> int:
    started = time.monotonic()
    if args.command == "reconcile" and _stops_at_once(args, now):
        from controller.apply.lastrun import Outcome

        return _report(args, Outcome(None), now, time.monotonic() - started)
    from controller import output
    from controller.apply.gate import Settings as GateSettings
    from controller.apply.selfcheck import Settings
    from controller.notify.mail import SmtpSettings
    from controller.reconcile import Options, make_plan, reconcile
    from controller.sources.fetch import FetchPolicy

    progress = _progress(args)
    policy = FetchPolicy()
    if getattr(args, "fetch_deadline", None) is not None:
        policy = replace(policy, run_time=args.fetch_deadline)
    # Replaying another day signs apt's metadata with that day's dates: apt's own clock would refuse it.
    checking = Settings(getattr(args, "self_check", "off"), check_dates=args.now is None)
    gate = GateSettings(args.installability, check_dates=args.now is None)
    options = Options(args.repo, args.at, now, args.publish_dir, _state_dir(args), private=args.private_dir,
                      private_publish=args.private_publish_dir, private_base_url=args.private_base_url,
                      gnupg_home=getattr(args, "gnupg_home", None), base_url=args.base_url,
                      wait=getattr(args, "wait", 0.0), progress=progress, smtp=SmtpSettings.from_environment(),
                      fetch_policy=policy, self_check=checking, installability=gate)
    try:
        if args.command == "plan":
            planned = make_plan(options)
            if args.format == "json":
                print(json.dumps(output.plan_document(planned, now), indent=2))
            elif not args.quiet:
                print(output.render_plan(planned, args.verbose))
            return 0
        outcome = reconcile(options)
    finally:
        progress.close()
    return _report(args, outcome, now, time.monotonic() - started)


def _stops_at_once(args: argparse.Namespace, now: datetime) -> bool:
    """What reconcile checks first, checked before the planner is loaded: most scheduled runs
    find that nothing can have changed."""
    from controller.apply.lastrun import stops_at_once
    from controller.apply.state import state_store
    from controller.publish.target import open_target

    private_channel = open_target(args.private_publish_dir) if args.private_publish_dir is not None else None
    return stops_at_once(args.repo, args.at, now, _state_dir(args), open_target(args.publish_dir),
                         state_store(args.publish_dir, args.private_dir), private_channel)


def _report(args: argparse.Namespace, outcome, now: datetime, seconds: float) -> int:
    from controller import output

    if args.format == "json":
        print(json.dumps(output.reconcile_document(outcome, now, seconds), indent=2))
        return 1 if outcome.failed else 0
    if not args.quiet:
        for note in outcome.notes:
            print(f"note: {note}", file=sys.stderr)
        print(output.render_outcome(outcome, args.verbose))
    for key, reason in sorted(outcome.failures.items()):
        print(f"ingest failed: {key}: {reason}", file=sys.stderr)
    for channel, problems in sorted(outcome.self_check.items()):
        for problem in problems:
            print(f"self-check failed: {channel}: {problem}", file=sys.stderr)
    if outcome.plan is not None and outcome.plan.actions and not args.quiet:
        served = ("its HTTP endpoint, or a CDN in front of it, serves them" if args.publish_dir.startswith("s3://")
                  else "serve the directory over http first")
        print(f"published under {args.publish_dir.rstrip('/')}/: point dnf at <channel>/<repository>.repo, apt at "
              f"<channel>/<repository>.sources ({served})")
    print(output.summary_line(outcome, seconds))
    return 1 if outcome.failed else 0


def _gc(args: argparse.Namespace, now: datetime) -> int:
    from controller.reconcile import Options, collect_garbage

    options = Options(args.repo, args.at, now, args.publish_dir, _state_dir(args), private=args.private_dir,
                      wait=args.wait)
    collection = collect_garbage(options, args.dry_run)
    if args.dry_run or args.verbose:
        verb = "would delete" if args.dry_run else "deleted"
        for source, archived in collection.archive:
            print(f"{'would archive' if args.dry_run else 'archived'} {source} as {archived}")
        for key in collection.keys:
            print(f"{verb} {key}")
    print(collection.describe(done=not args.dry_run))
    return 0


def _status(args: argparse.Namespace, now: datetime) -> int:
    failures = undelivered = private = gate = None
    served: list[str] = []
    if args.publish_dir is not None or args.state_dir is not None:
        from controller.apply.gate import read_gate
        from controller.apply.selfcheck import findings
        from controller.apply.state import private_location, read_failures, state_store
        from controller.notify.outbox import undelivered as read_undelivered

        state = state_store(args.publish_dir, args.private_dir) if args.publish_dir else _state_dir(args)
        failures, undelivered = read_failures(state), read_undelivered(state, not args.show_embargoed)
        store = state if args.publish_dir else _local_store(state)
        served, gate = findings(store), read_gate(store)
        private = private_location(args.publish_dir, args.private_dir) if args.publish_dir else None
    from controller import app, output

    result = app.status(args.repo, args.at, now, args.publish_dir, failures, private, not args.show_embargoed, gate)
    statuses = list(result.statuses.values())
    if args.release:
        statuses = [s for s in statuses if s.key == args.release]
        if not statuses:
            known = ", ".join(sorted(result.statuses)) or "none"
            raise BadInput(f"no release {args.release!r} at {args.at}", f"known releases: {known}")
    if args.format == "json":
        print(json.dumps(output.status_document(result, statuses, now, undelivered, served), indent=2))
    elif not args.quiet:
        print(output.render_status(result, statuses, now, undelivered, served))
    if not args.check:
        return 0
    found = output.check_findings(result, statuses, now, served)
    if args.format == "text":
        print(f"check: {len(found)} thing(s) need someone: " + "; ".join(found) if found else "check: all well",
              file=sys.stderr)
    return 1 if found else 0
