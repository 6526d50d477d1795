"""Signing with gpg: detached armored signatures of published metadata (repomd.xml.asc,
Release.gpg), clear-signed InRelease, and the signature inside each rpm. The only module that
signs (and the only user of the cryptography library); it also makes the demo's throwaway key
when repos-config names none.

An rpm's header signature is made here, in this process and its workers, when the key is a
service key stored without a passphrase: gpg-agent takes about 15 ms of one core for each
RSA-3072 signature (one at a time, whatever the number of connections) and rpmsign starts a gpg
per package, against about 2.5 ms with OpenSSL on every core. The secret key is read from the
keyring once per run into memory (it is never written anywhere). A key with a passphrase or on a
token, and an rpm laid out in a way rpmheader.py does not rewrite, go through rpmsign as before.
Either way every signed rpm is then checked by rpmkeys against the public key before it can
enter the pool.

Signing needs a gpg-agent, which gpg starts on first use and which would outlive the run (and,
once its home is deleted, answer the next run with "agent_genkey failed"). A Signer is used as a
context manager: the agent it started is stopped when the run ends; an agent that was already
running for the operator's keyring is left alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from controller.errors import BadInput, ToolFailed
from controller.publish import rpmheader
from controller.publish.parallel import in_parallel

RPMSIGN_BATCH = 200  # files per rpmsign process: a bounded command line
CHECKSIG_BATCH = 1000  # files per rpmkeys --checksig


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
    retiring: tuple[str, ...] = ()  # keys published beside this one during a rollover (public halves)
    _rpm_key: dict = field(default_factory=dict, compare=False, repr=False)  # the key, read once

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

    def sign_rpm(self, path: Path) -> None:
        """Sign the rpm at ``path`` in place with this key (a signature it already has is replaced).
        dnf's gpgcheck=1 checks this signature against the published key."""
        refused = self.sign_rpms([path])
        if refused:
            raise ToolFailed(["rpmkeys", "--checksig", str(path)], 1, refused[str(path)],
                             "the package is damaged: ask its provider for a new build")

    def sign_rpms(self, paths: list[Path]) -> dict[str, str]:
        """Sign many rpms in place, on every core; then check each signature with rpmkeys.
        Returns path -> why, for the files rpm refused: a damaged package fails alone (its release
        is refused), never the whole run."""
        key = self._in_process_key()
        left = list(paths)
        if key is not None:
            global _SIGNING  # handed to the forked workers by inheritance, never pickled
            _SIGNING = key
            try:
                refused = in_parallel(_sign_one, [str(p) for p in paths])
            finally:
                _SIGNING = None
            left = [Path(p) for p in refused if p]
        refused = self._rpmsign(left) if left else {}
        refused.update(self._check_rpms([p for p in paths if str(p) not in refused]))
        return refused

    def _in_process_key(self) -> tuple | None:
        """(fingerprint bytes, OpenSSL key) when the key can sign here: RSA, stored without a
        passphrase, and the key gpg itself would sign with (no signing subkey beside it)."""
        if "key" not in self._rpm_key:
            self._rpm_key["key"] = None
            listing = subprocess.run(["gpg", "--batch", "--homedir", str(self.home), "--with-colons",
                                      "--list-secret-keys", self.fingerprint], capture_output=True, text=True)
            signing = [line.split(":") for line in listing.stdout.splitlines()
                       if line.startswith(("sec:", "ssb:")) and "s" in line.split(":")[11]]
            if len(signing) == 1 and signing[0][0] == "sec":
                try:
                    exported = self._gpg("--export-secret-keys", self.fingerprint)
                    secret = rpmheader.unprotected_rsa_key(exported, self.fingerprint)
                except (ToolFailed, ValueError, IndexError):
                    secret = None
                if secret is not None:
                    numbers = rsa.RSAPrivateNumbers(
                        secret.p, secret.q, secret.d, rsa.rsa_crt_dmp1(secret.d, secret.p),
                        rsa.rsa_crt_dmq1(secret.d, secret.q), rsa.rsa_crt_iqmp(secret.p, secret.q),
                        rsa.RSAPublicNumbers(secret.e, secret.n))
                    # Checked enough: p * q is n, and rpm checks every signature made with it.
                    key = numbers.private_key(unsafe_skip_rsa_key_validation=True)
                    self._rpm_key["key"] = (secret.fingerprint, key)
        return self._rpm_key["key"]

    def _rpmsign(self, paths: list[Path]) -> dict[str, str]:
        """One rpmsign per core, each given a batch of files, side by side. A batch that fails is
        signed again file by file, so that a damaged file is refused alone; path -> why."""
        gpg = shutil.which("gpg") or "/usr/bin/gpg"
        base = ["rpmsign", "--addsign", "--define", f"__gpg {gpg}", "--define", f"_gpg_path {self.home}",
                "--define", f"_gpg_name {self.fingerprint}", "--define", "_gpg_digest_algo sha256",
                "--define", "_gpg_sign_cmd_extra_args --batch --no-tty --pinentry-mode loopback"]
        lanes = max(1, min(os.cpu_count() or 1, len(paths)))
        refused: dict[str, str] = {}
        for start in range(0, len(paths), lanes * RPMSIGN_BATCH):
            chunk = paths[start:start + lanes * RPMSIGN_BATCH]
            commands = [base + [str(p) for p in chunk[lane::lanes]] for lane in range(lanes)]
            try:
                running = [(c, subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE)) for c in commands if len(c) > len(base)]
            except FileNotFoundError:
                raise ToolFailed(base, 127, "rpmsign not found", "install rpm (make system-deps does)") from None
            failed = []
            for command, process in running:
                _, err = process.communicate(timeout=300 + 10 * len(command))
                if process.returncode != 0:
                    failed.append((command, process.returncode, err))
            for command, code, err in failed:
                for path in command[len(base):]:
                    done = subprocess.run(base + [path], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                          timeout=300)
                    if done.returncode == 0:
                        continue
                    if path not in done.stderr:  # not about this file: the key or the tool
                        raise ToolFailed(command, code, err.decode(errors="replace"),
                                         f"check that {self.home} holds the secret key {self.fingerprint}")
                    refused[path] = next(line for line in done.stderr.splitlines() if path in line)
        return refused

    def _check_rpms(self, paths: list[Path]) -> dict[str, str]:
        """rpm's own check of every signed file against the public key alone (and of its digests):
        a file it does not pass never reaches the pool. path -> what rpm said, for those."""
        refused: dict[str, str] = {}
        if not paths:
            return refused
        with tempfile.TemporaryDirectory(prefix="rolloutctl-rpmdb-") as db:
            key = Path(db) / "key.asc"
            key.write_bytes(self._gpg("--armor", "--export", self.fingerprint))
            _run(["rpmkeys", "--dbpath", db, "--import", str(key)], "install rpm (make system-deps does)")
            for start in range(0, len(paths), CHECKSIG_BATCH):
                batch = [str(p) for p in paths[start:start + CHECKSIG_BATCH]]
                command = ["rpmkeys", "--dbpath", db, "--checksig", *batch]
                done = subprocess.run(command, capture_output=True, text=True, timeout=300 + len(batch))
                said = dict(line.rsplit(": ", 1) for line in done.stdout.splitlines() if ": " in line)
                bad = {path: said.get(path, "not checked") for path in batch
                       if said.get(path) != "digests signatures OK"}
                if done.returncode != 0 and not bad:  # rpmkeys itself failed, not one of the files
                    raise ToolFailed(command[:4] + ["..."], done.returncode, done.stderr[-2000:])
                refused.update({path: f"rpm's check after signing says: {why.strip()}" for path, why in bad.items()})
        return refused

    def public_key(self) -> bytes:
        """The signing key's public half, and those of the retiring keys: what clients trust."""
        return self._gpg("--armor", "--export", self.fingerprint, *self.retiring)


_SIGNING: tuple | None = None  # (fingerprint, key) while sign_rpms runs: the workers' key


def _sign_one(path: str) -> str:
    """Sign the rpm at ``path`` in place with the key in ``_SIGNING``; '' when done, else the path,
    left for rpmsign (an rpm laid out in a way rpmheader.py does not rewrite)."""
    fingerprint, key = _SIGNING

    def sign_digest(digest: bytes) -> int:
        return int.from_bytes(key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())), "big")

    try:
        rpmheader.rewrite(Path(path), lambda header: rpmheader.signature_packet(
            header, fingerprint, int(time.time()), sign_digest))
    except rpmheader.NotSignable:
        return path
    return ""


def _run(command: list[str], hint: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise ToolFailed(command, 127, f"{command[0]} not found", hint) from None
    if done.returncode != 0:
        raise ToolFailed(command, done.returncode, done.stderr)


def configured_signer(home: Path, fingerprint: str, retiring: tuple[str, ...] = ()) -> Signer:
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
    for old in retiring:
        if subprocess.run(["gpg", "--batch", "--homedir", str(home), "--list-keys", old],
                          capture_output=True).returncode != 0:
            if owns_agent:
                stop_agent(home)
            raise BadInput(f"retiring key {old} (repos-config/repositories.yaml) is not in {home}",
                           "import its public key there: it stays published until the rollover ends")
    return Signer(home, fingerprint, owns_agent, tuple(retiring))


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
