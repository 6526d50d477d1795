"""Signing published metadata with gpg: detached armored signatures (repomd.xml.asc,
Release.gpg) and clear-signed InRelease. The only module that signs; it also makes the demo's
throwaway key when repos-config names none.

Signing needs a gpg-agent, which gpg starts on first use and which would outlive the run (and,
once its home is deleted, answer the next run with "agent_genkey failed"). A Signer is used as a
context manager: the agent it started is stopped when the run ends; an agent that was already
running for the operator's keyring is left alone.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from controller.errors import BadInput, ToolFailed


def _agent_running(home: Path) -> bool:
    done = subprocess.run(["gpg-connect-agent", "--homedir", str(home), "--no-autostart", "GETINFO pid", "/bye"],
                          capture_output=True, text=True, timeout=30)
    return done.stdout.startswith("D ")


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent serving ``home``, if one runs (also one whose home was deleted)."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, timeout=30)


@dataclass(frozen=True)
class Signer:
    home: Path  # the GnuPG home holding the secret key
    fingerprint: str
    owns_agent: bool = field(default=False, compare=False)  # stop the agent when done with the key

    def __enter__(self) -> Signer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.owns_agent:
            stop_agent(self.home)

    def _gpg(self, *args: str, stdin: bytes | None = None) -> bytes:
        command = ["gpg", "--batch", "--no-tty", "--homedir", str(self.home), "--pinentry-mode", "loopback",
                   "--passphrase", "", "--local-user", self.fingerprint, *args]
        try:
            done = subprocess.run(command, input=stdin, capture_output=True, timeout=120)
        except FileNotFoundError:
            raise ToolFailed(command, 127, "gpg not found", "install gnupg (make system-deps does)") from None
        if done.returncode != 0:
            raise ToolFailed(command, done.returncode, done.stderr.decode(errors="replace"),
                             f"check that {self.home} holds the secret key {self.fingerprint}")
        return done.stdout

    def detach_sign(self, data: bytes) -> bytes:
        return self._gpg("--armor", "--detach-sign", "--digest-algo", "SHA256", "--output", "-", stdin=data)

    def clear_sign(self, data: bytes) -> bytes:
        return self._gpg("--clearsign", "--digest-algo", "SHA256", "--output", "-", stdin=data)

    def public_key(self) -> bytes:
        return self._gpg("--armor", "--export", self.fingerprint)


def configured_signer(home: Path, fingerprint: str) -> Signer:
    if not home.is_dir():
        raise BadInput(f"the GnuPG home {home} does not exist",
                       "pass --gnupg-home with the keyring that holds the signing key (or set GNUPGHOME)")
    owns_agent = not _agent_running(home)
    listing = subprocess.run(["gpg", "--batch", "--homedir", str(home), "--with-colons", "--list-secret-keys",
                              fingerprint], capture_output=True, text=True)
    if listing.returncode != 0:
        if owns_agent:
            stop_agent(home)
        raise BadInput(f"signing key {fingerprint} not found in {home}",
                       "import the secret key there, or pass --gnupg-home with the keyring that holds it")
    return Signer(home, fingerprint, owns_agent)


def throwaway_signer(home: Path) -> tuple[Signer, bool]:
    """The demo's key, made on first use; returns (signer, whether it was just created)."""
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    stop_agent(home)  # one left by a run that crashed, perhaps serving a home since deleted
    uid = "rolloutctl throwaway signing key <throwaway@rolloutctl.invalid>"

    def find() -> str | None:
        out = subprocess.run(["gpg", "--batch", "--homedir", str(home), "--with-colons", "--list-secret-keys"],
                             capture_output=True, text=True).stdout
        return next((line.split(":")[9] for line in out.splitlines() if line.startswith("fpr")), None)

    existing = find()
    if existing:
        return Signer(home, existing, owns_agent=True), False
    command = ["gpg", "--batch", "--homedir", str(home), "--passphrase", "", "--quick-gen-key", uid,
               "rsa3072", "sign", "2y"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        stop_agent(home)
        raise ToolFailed(command, done.returncode, done.stderr)
    return Signer(home, find() or "", owns_agent=True), True


def export_secret_key(signer: Signer) -> bytes:
    """The throwaway key, armored, so that another runner signs with the same one."""
    return signer._gpg("--armor", "--export-secret-keys", signer.fingerprint)


def import_secret_key(home: Path, armored: bytes) -> None:
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    command = ["gpg", "--batch", "--homedir", str(home), "--pinentry-mode", "loopback", "--passphrase", "",
               "--import"]
    done = subprocess.run(command, input=armored, capture_output=True, timeout=120)
    if done.returncode != 0:
        raise ToolFailed(command, done.returncode, done.stderr.decode(errors="replace"))
