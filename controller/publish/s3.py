"""A publish target on S3-compatible object storage (AWS S3, Ceph RGW, SeaweedFS, MinIO). The
only boto3 user.

The endpoint, region and credentials come from the standard environment (AWS_ENDPOINT_URL,
AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or any other source boto3 reads). There is
no rename on object storage: the protocol's order (target.py) is what keeps clients safe, and
every object is put whole. Write-once objects are created with If-None-Match: *, so an object
already there is never replaced; they carry a long cache lifetime, mutable ones a short one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions

from controller.errors import BadInput, Transient
from controller.publish.target import Stored

IMMUTABLE = "public, max-age=31536000, immutable"
MUTABLE = "public, max-age=60"  # the roots: a CDN must not widen the switch into minutes
THREADS = 8
_TYPES = {".xml": "application/xml", ".json": "application/json", ".html": "text/html; charset=utf-8",
          ".atom": "application/atom+xml", ".svg": "image/svg+xml", ".asc": "text/plain", ".repo": "text/plain",
          ".sources": "text/plain", ".gz": "application/gzip", ".xz": "application/x-xz",
          ".rpm": "application/x-rpm", ".deb": "application/vnd.debian.binary-package"}


def _content_type(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return _TYPES.get(os.path.splitext(name)[1], "text/plain" if name in ("InRelease", "Release", "Packages")
                      else "application/octet-stream")


class S3Target:
    def __init__(self, bucket: str, prefix: str = ""):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.description = f"s3://{bucket}/{self.prefix}"
        self._client = None
        self._pid = None

    @classmethod
    def from_url(cls, url: str) -> S3Target:
        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise BadInput(f"{url}: no bucket", "write --publish-dir s3://BUCKET/PREFIX")
        return cls(bucket, prefix)

    def __getstate__(self) -> dict:  # worker processes make their own client
        return {**self.__dict__, "_client": None, "_pid": None}

    @property
    def client(self):
        if self._client is None or self._pid != os.getpid():
            config = botocore.config.Config(retries={"max_attempts": 5, "mode": "standard"},
                                            max_pool_connections=THREADS * 2,
                                            s3={"addressing_style": "path"})
            self._client = boto3.session.Session().client("s3", config=config)
            self._pid = os.getpid()
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _call(self, what: str, action, *args, **kwargs):
        try:
            return action(*args, **kwargs)
        except botocore.exceptions.NoCredentialsError:
            raise BadInput(f"no credentials for {self.description}",
                           "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL for a store "
                           "other than AWS)") from None
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in ("NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch") or \
                    status in (401, 403):
                raise BadInput(f"{what} {self.description}: {code or status}",
                               "check the bucket name, AWS_ENDPOINT_URL and the credentials' permissions") from None
            raise Transient(f"{what} {self.description}: {code or status} {exc}",
                            "the object store refused or failed; the next run tries again") from None
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise Transient(f"{what} {self.description}: {exc}",
                            "check AWS_ENDPOINT_URL and the network; the next run tries again") from None

    def list(self, prefix: str) -> dict[str, Stored]:
        found = {}
        paginator = self.client.get_paginator("list_objects_v2")

        def pages():
            return list(paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)))

        for page in self._call("listing", pages):
            for item in page.get("Contents", ()):
                key = item["Key"].removeprefix(self.prefix)
                found[key] = Stored(key, item["Size"], item["LastModified"].timestamp())
        return found

    def read(self, key: str) -> bytes | None:
        def get():
            try:
                return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise

        return self._call("reading", get)

    def write(self, key: str, data: bytes, modified: float | None = None) -> None:
        self._call("writing", self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data,
                   ContentType=_content_type(key), CacheControl=MUTABLE)

    def _create(self, key: str, data: bytes, cache: str = IMMUTABLE) -> bool:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*",
                                   ContentType=_content_type(key), CacheControl=cache)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (409, 412):
                return False  # already there (409: another writer's create in flight)
            raise
        return True

    def write_once(self, items: dict[str, bytes]) -> None:
        if not items:
            return

        def put_all():
            with ThreadPoolExecutor(THREADS) as workers:
                list(workers.map(lambda pair: self._create(*pair), items.items()))

        self._call("writing", put_all)

    def upload(self, key: str, path: Path) -> None:
        self._call("uploading", self.client.upload_file, str(path), self.bucket, self._key(key),
                   ExtraArgs={"ContentType": _content_type(key), "CacheControl": IMMUTABLE})
        path.unlink()

    def download(self, key: str, path: Path) -> None:
        self._call("downloading", self.client.download_file, self.bucket, self._key(key), str(path))

    def local_path(self, key: str) -> str | None:
        return None

    def create(self, key: str, data: bytes) -> bool:
        return self._call("creating", self._create, key, data, MUTABLE)

    def copy(self, source: str, key: str) -> None:
        self._call("copying", self.client.copy_object, Bucket=self.bucket, Key=self._key(key),
                   CopySource={"Bucket": self.bucket, "Key": self._key(source)}, CacheControl=IMMUTABLE,
                   ContentType=_content_type(key), MetadataDirective="REPLACE")

    def delete(self, keys: Iterable[str]) -> None:
        keys = sorted(keys)
        for start in range(0, len(keys), 1000):
            batch = [{"Key": self._key(k)} for k in keys[start:start + 1000]]
            self._call("deleting", self.client.delete_objects, Bucket=self.bucket,
                       Delete={"Objects": batch, "Quiet": True})

    def flush(self) -> None:
        """Every put was acknowledged whole; S3 reads new keys after their write at once."""
