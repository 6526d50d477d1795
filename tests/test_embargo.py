"""Embargoed security releases: before their date nothing about them reaches any public byte (the
published tree or bucket, the listings a web server would make of it, the commands' output, mail
to anyone but the security group and the committed early adopters); their packages wait in the
private pool, and on the date they are moved in, with no second download from the provider."""

from __future__ import annotations

import email
import email.policy
import functools
import gzip
import hashlib
import http.server
import lzma
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clients import Dnf
from conftest import ARC, TOP, arc_release, commit_embargoed_unicore, verification
from servers import FileServer, seaweedfs  # noqa: F401  (the session's object store)
from test_notify import smtp  # noqa: F401  (the SMTP server fixture)

from controller.core.messages import Message
from controller.errors import BadInput
from controller.notify import outbox
from controller.notify.mail import Mailer
from controller.publish.target import Target, open_target
from controller.reconcile import Options, make_plan, reconcile

UNICORE = "releases/unicore-server/9.2.1"
RPM = "unicore-server-9.2.1-1.el9.noarch.rpm"
RPM_BYTES = (TOP / UNICORE / "packages" / RPM).read_bytes()
SHA = hashlib.sha256(RPM_BYTES).hexdigest()
# Everything that would name the release: component and package name, version, checksum, the
# security group's advisory id, the CVE (the distribution's advisory id contains the name).
SECRETS = ("unicore", "9.2.1", SHA, "svg-2026-0117", "cve-2026-41822", "41822")
SECURITY = {"sofia.rossi@security.example.org"}
EARLY_ADOPTERS = {"bernd.schuller@fzj.example.org"}  # FZJ-JUGRID, committed to the unicore stack
MANAGERS = {"maria.duarte@umd.example.org", "tomas.lind@umd.example.org"}
NOW = datetime(2026, 11, 16, 12, tzinfo=UTC)
PRIVATE_URL = "https://embargoed.umd.example.org"
BEFORE, AFTER = "2026-11-16T14:30:00Z", "2026-11-20T12:30:00Z"  # the embargo ends 2026-11-20T12:00Z


@dataclass
class Place:
    """Where a reconcile publishes: the public target and the private area, local or on S3."""

    publish: Path | str
    private: Path | str
    channel: Path | str  # the private channel's location
    state: Path
    store: object = None  # the SeaweedFS, for S3

    def public(self) -> Target:
        return open_target(self.publish)

    def private_area(self) -> Target:
        return open_target(self.private)

    def flags(self) -> list[str]:
        return ["--publish-dir", str(self.publish), "--private-dir", str(self.private), "--state-dir",
                str(self.state), "--private-publish-dir", str(self.channel), "--private-base-url", PRIVATE_URL]

    def private_channel(self) -> str:
        """What the private channel's manifest lists."""
        return open_target(self.channel).read("embargoed/manifest.json").decode()


@pytest.fixture(params=["local", "s3"])
def place(request, tmp_path) -> Place:
    if request.param == "local":
        return Place(tmp_path / "public", tmp_path / ".public-private", tmp_path / "private-channel",
                     tmp_path / "state")
    prefix = f"embargo-{uuid.uuid4().hex[:8]}"
    return Place(f"s3://public/{prefix}", f"s3://private/{prefix}", f"s3://private/{prefix}-channel",
                 tmp_path / "state", request.getfixturevalue("seaweedfs"))


@pytest.fixture
def provider(tmp_path):
    """The provider's download server, counting the requests for the embargoed package."""
    root = tmp_path / "provider"
    root.mkdir()
    shutil.copyfile(TOP / UNICORE / "packages" / RPM, root / RPM)
    with FileServer(root) as server:
        yield server


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rpm_requests(provider) -> int:
    return sum(1 for path, _ in provider.requests if path.endswith(RPM))


def rolloutctl(story, settings, *args: str) -> str:
    """A real run of the command; its standard output and error together."""
    env = {**os.environ, "ROLLOUTCTL_SMTP_HOST": settings.host, "ROLLOUTCTL_SMTP_PORT": str(settings.port),
           "ROLLOUTCTL_SMTP_FROM": settings.sender}
    done = subprocess.run([sys.executable, "-m", "controller", "--repo", str(story.path), *args],
                          capture_output=True, text=True, env=env)
    assert "Traceback" not in done.stderr and done.returncode in (0, 1), done.stderr
    return done.stdout + done.stderr


def readable(data: bytes) -> list[bytes]:
    """The bytes, and what they decompress to (gzip, xz: repodata, Packages, by-hash indexes)."""
    found = [data]
    if data[:2] == b"\x1f\x8b":
        found.append(gzip.decompress(data))
    elif data[:6] == b"\xfd7zXZ\x00":
        found.append(lzma.decompress(data))
    return found


def listings_of(root: Path) -> dict[str, bytes]:
    """Every directory of a local tree as python's http.server lists it."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        pages = {}
        for folder in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
            path = "/" if folder == root else f"/{urllib.parse.quote(str(folder.relative_to(root)))}/"
            with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}{path}") as answer:
                pages[f"listing of {path}"] = answer.read()
        return pages
    finally:
        server.shutdown()
        server.server_close()


def bucket_listing(endpoint: str, bucket: str, prefix: str) -> list[bytes]:
    """The ListObjectsV2 XML an anonymous client gets, every page of it."""
    pages, token = [], None
    while True:
        query = {"list-type": "2", "prefix": prefix, **({"continuation-token": token} if token else {})}
        with urllib.request.urlopen(f"{endpoint}/{bucket}?{urllib.parse.urlencode(query)}") as answer:
            page = answer.read()
        pages.append(page)
        more = re.search(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>", page)
        if not more:
            return pages
        token = more.group(1).decode()


def public_bytes(place: Place) -> dict[str, bytes]:
    """Every public byte of the target: each file or object, and the listings of them."""
    found: dict[str, bytes] = {}
    if place.store is None:
        found.update({str(p): p.read_bytes() for p in place.publish.rglob("*") if p.is_file()})
        found.update(listings_of(place.publish))
        assert b"status.json" in found["listing of /"] and b"production/" in found["listing of /"]
    else:
        target = place.public()
        found.update({key: target.read(key) for key in target.list("")})
        prefix = place.publish.removeprefix("s3://public/") + "/"
        for number, page in enumerate(bucket_listing(place.store.endpoint, "public", prefix)):
            found[f"bucket listing page {number}"] = page
        assert b"/status.json</Key>" in found["bucket listing page 0"]
    assert any(name.endswith("status.json") for name in found) and any("site/" in name for name in found)
    return found


def leaks(texts: dict[str, bytes]) -> list[str]:
    """Where a name of the embargoed release appears."""
    return [f"{where}: {secret}" for where, data in texts.items() for text in readable(data)
            for secret in SECRETS if secret.encode() in text.lower()]


def mail_text(raw: bytes) -> bytes:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return f"{message['Subject']}\n{message['To']}\n{message.get_content()}".encode()


def test_nothing_about_an_embargoed_release_is_public_before_its_date(story, place, provider, smtp):  # noqa: F811
    inbox, _, settings = smtp
    story.commit("maria", "2026-09-03T08:00:00Z", {"adopters/FZJ-JUGRID.yaml":
                                                   (TOP / "adopters/FZJ-JUGRID.yaml").read_bytes()})
    story.commit("lars", "2026-11-12T09:00:00Z", arc_release(), "arc-ce 6.19.0")
    story.commit("ines", "2026-11-12T10:00:00Z", {f"{ARC}/verification.yaml": verification()})
    commit_embargoed_unicore(story, "2026-11-16", url=provider.url)
    certified = subprocess.run(["git", "-C", str(story.path), "rev-list", "--skip=2", "-1", "HEAD"],
                               capture_output=True, text=True, check=True).stdout.strip()
    outputs: dict[str, bytes] = {}

    def say(name: str, *args: str) -> None:
        outputs[name] = rolloutctl(story, settings, *args).encode()

    # The afternoon of the day the release was certified, as of that commit: fetched, verification
    # overdue. Then the same day at the branch's head: verified and sent to Production (privately).
    for rev, now in ((certified, "2026-11-16T14:00:00Z"), ("HEAD", BEFORE)):
        common = ["--at", rev, "--now", now, *place.flags(), "--base-url", "http://repo.example.org"]
        say(f"plan at {now}", "plan", "-v", *common)
        say(f"plan --format json at {now}", "plan", "--format", "json", *common)
        say(f"reconcile at {now}", "reconcile", "-v", *common)
    say("status", "status", "--now", BEFORE, *place.flags()[:6], "--check")
    say("status --format json", "status", "--now", BEFORE, *place.flags()[:6], "--format", "json")
    say("reconcile --format json", "reconcile", "--now", "2026-11-16T15:00:00Z", *place.flags(), "--format", "json")

    assert rpm_requests(provider) == 1
    assert f"pool/{SHA[:2]}/{SHA}/{RPM}" in place.private_area().list("pool/")
    assert "1 of 1 embargoed release(s) need someone" not in outputs["status"].decode()
    assert "1 embargoed release(s): details withheld" in outputs["status"].decode()
    assert "arc-ce/6.19.0" in outputs["status"].decode()  # the others are shown as ever
    shown = rolloutctl(story, settings, "status", "--now", BEFORE, *place.flags()[:6], "--show-embargoed")
    assert "unicore-server/9.2.1: production" in shown  # to the operator who asks, on a private terminal

    # Those who may know were told, the managers were not: the overdue verification went to the
    # security group alone, the release's readiness to it and the committed early adopters.
    told = {message["Subject"]: set(to) for to, raw in inbox.raw
            for message in [email.message_from_bytes(raw, policy=email.policy.default)]}
    assert told["unicore-server/9.2.1: step 2: verification is overdue"] == SECURITY
    assert told["[unicore] unicore-server 9.2.1 is ready for staged rollout"] == SECURITY | EARLY_ADOPTERS
    ready = next(mail_text(raw) for to, raw in inbox.raw if to == SECURITY | EARLY_ADOPTERS)
    assert f"{PRIVATE_URL}/embargoed/umd5-el9.repo".encode() in ready
    assert RPM in place.private_channel()
    assert told["arc-ce/6.19.0: acceptance window is overdue"] == MANAGERS
    others = {f"mail to {', '.join(sorted(to))} #{n}": mail_text(raw) for n, (to, raw) in enumerate(inbox.raw)
              if not to <= SECURITY | EARLY_ADOPTERS}
    assert others  # the arc-ce messages, at least

    everything = {**public_bytes(place), **outputs, **others}
    assert leaks(everything) == []
    assert "fetch 1 package(s) of 1 embargoed release(s) into the private pool (details withheld)" in \
        outputs["plan at 2026-11-16T14:00:00Z"].decode()

    # The embargo ends: the next reconcile moves the bytes in and publishes everything at once.
    after = rolloutctl(story, settings, "reconcile", "-v", "--now", AFTER, *place.flags())
    assert f"move {RPM} for unicore-server/9.2.1 from the private pool into the public pool" in after
    assert rpm_requests(provider) == 1  # not fetched again
    public = place.public()
    assert public.read(f"pool/{SHA[:2]}/{SHA}/{RPM}") == RPM_BYTES
    assert place.private_area().list("pool/") == {}
    assert RPM in public.read("production/manifest.json").decode()
    assert b"CVE-2026-41822" in public.read("site/releases/unicore-server-9.2.1.html")
    assert b"unicore-server 9.2.1 in Production" in public.read("site/feed.atom")
    assert RPM not in place.private_channel()
    assert told_after(inbox)["unicore-server 9.2.1 is available in Production"] == {
        "site-admins@lists.umd.example.org"}


def told_after(inbox) -> dict[str, set[str]]:
    return {email.message_from_bytes(raw, policy=email.policy.default)["Subject"]: set(to) for to, raw in inbox.raw}


def test_a_private_bucket_is_not_readable_anonymously(seaweedfs):  # noqa: F811
    """The tests' stand-in for an operator's set-up: the private area is not public."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{seaweedfs.endpoint}/private?list-type=2")
    assert refused.value.code in (401, 403)


def test_an_undeliverable_message_about_an_embargoed_release_is_reported_without_its_details(tmp_path, smtp):  # noqa: F811
    inbox, _, settings = smtp
    inbox.gone.add("bernd.schuller@fzj.example.org")
    message = Message("verified:unicore-server/9.2.1", NOW, ("bernd.schuller@fzj.example.org",), "",
                      "[unicore] unicore-server 9.2.1 is ready for staged rollout", restricted=True)
    outbox.deliver(tmp_path / "state", [message], NOW, lambda m: "the details\n", lambda: Mailer(settings),
                   tuple(sorted(MANAGERS)))
    [(to, raw)] = inbox.raw
    assert to == MANAGERS and b"1 rolloutctl message(s) could not be delivered" in raw
    assert leaks({"the managers' report": mail_text(raw)}) == []
    [withheld] = outbox.undelivered(tmp_path / "state", withhold=True)
    assert withheld["subject"] == "a message about an embargoed release (details withheld)"
    assert leaks({"status": repr(withheld).encode()}) == []
    assert outbox.undelivered(tmp_path / "state")[0]["subject"] == message.subject  # with --show-embargoed


def test_the_private_channel_serves_the_embargoed_packages_to_dnf_before_the_date(story, tmp_path):
    commit_embargoed_unicore(story, "2026-11-16")
    channel = tmp_path / "private-channel"
    channel.mkdir()
    with FileServer(channel, credentials=("fzj-jugrid", "site-secret")) as server:
        def run(now: str):
            return reconcile(Options(str(story.path), "HEAD", at(now), tmp_path / "public", tmp_path / "state",
                                     private_publish=channel, private_base_url=server.url))

        before = run(BEFORE)
        assert "published the private channel (details withheld)" in before.withheld
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.url}/embargoed/umd5-el9.repo")
        assert refused.value.code == 401  # the operator's access control, here basic auth
        config = (channel / "embargoed/umd5-el9.repo").read_text()
        assert "repo_gpgcheck=1" in config and "gpgcheck=1" in config
        dnf = Dnf(tmp_path / "dnf", tmp_path / "no-public-channel")
        (dnf.home / "repos/embargoed.repo").write_text(config + "username=fzj-jugrid\npassword=site-secret\n")
        installed = dnf.run("install", "unicore-server")
        assert installed.returncode == 0, installed.stderr
        assert (dnf.home / "root/usr/share/unicore-server/VERSION").is_file()
        assert not any(SHA in str(p) for p in (tmp_path / "public").rglob("*"))

        after = run(AFTER)  # the embargo ended: public everywhere, gone from the private channel
        assert "published the private channel (details withheld)" in after.withheld
        listed = dnf.run("repoquery", "--available", "--qf", "%{name}-%{version}")
        assert listed.returncode == 0 and "unicore-server" not in listed.stdout, listed.stderr
    assert RPM in (tmp_path / "public/production/manifest.json").read_text()
    assert (tmp_path / "public/site/releases/unicore-server-9.2.1.html").is_file()


def test_the_private_channel_needs_a_place_of_its_own(story, tmp_path):
    def plan(**extra):
        return make_plan(Options(str(story.path), "HEAD", at(BEFORE), tmp_path / "public", tmp_path / "state",
                                 **extra))

    with pytest.raises(BadInput, match="overlaps --publish-dir"):
        plan(private_publish=tmp_path / "public/embargoed", private_base_url="https://private.example.org")
    with pytest.raises(BadInput, match="overlaps the private area"):
        plan(private_publish=tmp_path / ".public-private", private_base_url="https://private.example.org")
    with pytest.raises(BadInput, match="needs --private-base-url"):
        plan(private_publish=tmp_path / "private-channel")
