"""Verifying OpenPGP signatures with gpg, in a throwaway keyring holding only the keys given.

The only module that runs gpg for verification. Returns the primary-key fingerprint of each good
signature by a valid key; a bad signature, an unknown key, a key revoked (its revocation among the
keys given) or expired at the instant asked about verifies as None.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from controller.errors import ToolFailed

GPG = "gpg"


def _run(command: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, input=stdin, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise ToolFailed(command, 127, "gpg is not installed", "install gnupg (make system-deps does)") from None


def verify_signatures(signed: Mapping[str, tuple[bytes, bytes]], public_keys: Iterable[bytes],
                      at: datetime | None = None) -> dict[str, str | None]:
    """{id: (signature, signed data)} -> {id: primary fingerprint of a good signature, or None}.

    With ``at``, keys are judged as of that instant (a key that expired later still counted then)."""
    result: dict[str, str | None] = {}
    if not signed:
        return result
    with tempfile.TemporaryDirectory(prefix="rolloutctl-gpg-") as home:
        base = [GPG, "--batch", "--no-tty", "--no-autostart", "--homedir", home]  # public keys need no agent
        if at is not None:
            # Keys and signatures made after ``at`` are not refused for that (the clock of history).
            base += ["--faked-system-time", at.astimezone(UTC).strftime("%Y%m%dT%H%M%S") + "!",
                     "--ignore-time-conflict"]
        keys = b"\n".join(public_keys)
        if keys.strip():
            imported = _run(base + ["--import"], keys)
            if imported.returncode not in (0, 2):  # 2: some keys were skipped, the rest imported
                raise ToolFailed(base + ["--import"], imported.returncode, imported.stderr.decode(errors="replace"),
                                 "check the keys in repos-config/keys/")
        folder = Path(home)
        for ident, (signature, data) in signed.items():
            (folder / "sig").write_bytes(signature)
            (folder / "data").write_bytes(data)
            done = _run(base + ["--status-fd", "1", "--verify", str(folder / "sig"), str(folder / "data")])
            result[ident] = _primary_fingerprint(done.stdout.decode(errors="replace"))
    return result


# Any of these means the signature must not count, even when gpg also says VALIDSIG (which only
# means the signature matches the data): the key was revoked or had expired, or the signature did.
_REFUSED = {"BADSIG", "ERRSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "KEYREVOKED", "KEYEXPIRED", "NO_PUBKEY"}


def _primary_fingerprint(status: str) -> str | None:
    found, good = None, False
    for line in status.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0] != "[GNUPG:]":
            continue
        if parts[1] in _REFUSED:
            return None
        good = good or parts[1] == "GOODSIG"
        # [GNUPG:] VALIDSIG <fpr> <date> <ts> <expire> <ver> <res> <pk> <hash> <class> <primary-fpr>
        if len(parts) >= 3 and parts[1] == "VALIDSIG":
            found = parts[-1] if len(parts) >= 12 else parts[2]
    return found if good else None
