"""Signing published metadata with gpg: detached armored signatures (repomd.xml.asc,
Release.gpg) and clear-signed InRelease. The only module that signs; it also makes the demo's
throwaway key when repos-config names none.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from controller.errors import BadInput, ToolFailed


@dataclass(frozen=True)
class Signer:
    home: Path  # the GnuPG home holding the secret key
    fingerprint: str

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
    listing = subprocess.run(["gpg", "--batch", "--homedir", str(home), "--with-colons", "--list-secret-keys",
                              fingerprint], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BadInput(f"signing key {fingerprint} not found in {home}",
                       "import the secret key there, or pass --gnupg-home with the keyring that holds it")
    return Signer(home, fingerprint)


def throwaway_signer(home: Path) -> tuple[Signer, bool]:
    """The demo's key, made on first use; returns (signer, whether it was just created)."""
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    uid = "rolloutctl throwaway signing key <throwaway@rolloutctl.invalid>"

    def find() -> str | None:
        out = subprocess.run(["gpg", "--batch", "--homedir", str(home), "--with-colons", "--list-secret-keys"],
                             capture_output=True, text=True).stdout
        return next((line.split(":")[9] for line in out.splitlines() if line.startswith("fpr")), None)

    existing = find()
    if existing:
        return Signer(home, existing), False
    command = ["gpg", "--batch", "--homedir", str(home), "--passphrase", "", "--quick-gen-key", uid,
               "rsa3072", "sign", "2y"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise ToolFailed(command, done.returncode, done.stderr)
    return Signer(home, find() or ""), True
