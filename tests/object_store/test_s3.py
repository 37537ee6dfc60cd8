"""The S3 API through boto3 and the AWS CLI, with EC2 credentials made by `openstack ec2
credentials create`: buckets, objects, listings, copies, ranges, multipart uploads (and their
listings), batch deletes, presigned URLs, virtual-hosted buckets, and the errors S3 gives (bad
signatures, unknown keys, missing buckets and keys, bad multipart completions, other
projects' buckets)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.client import Config
from botocore.exceptions import ClientError

from tests.helpers.isolation import Tenant
from tests.helpers.server import Server

AWS = str(Path(sys.executable).parent / "aws")


def s3_client(server: Server, access: str, secret: str, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.url + "/object-store/s3",
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, **config),
    )


@pytest.fixture(scope="module")
def ec2(server: Server) -> dict[str, str]:
    return server.cli_json("ec2", "credentials", "create")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def s3(server: Server, ec2: dict[str, str]) -> Any:
    return s3_client(server, ec2["access"], ec2["secret"])


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"bk-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def code_of(call: Callable[[], object]) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def test_ec2_credentials_through_the_cli(server: Server, ec2: dict[str, str]) -> None:
    listed = server.cli_json("ec2", "credentials", "list")
    assert ec2["access"] in [c["Access"] for c in listed]
    shown = server.cli_json("ec2", "credentials", "show", ec2["access"])
    assert shown["secret"] == ec2["secret"]
    extra = server.cli_json("ec2", "credentials", "create")
    server.cli("ec2", "credentials", "delete", extra["access"])
    assert extra["access"] not in [
        c["Access"] for c in server.cli_json("ec2", "credentials", "list")
    ]
    # the generic credentials API holds them too
    creds = server.cli_json("credential", "list", "--type", "ec2")
    assert hashlib.sha256(ec2["access"].encode()).hexdigest() in [c["ID"] for c in creds]
    made = server.cli_json("credential", "create", "--type", "totp", "admin", "secret-blob")
    server.cli(
        "credential", "set", "--type", "totp", "--data", "other", "--user", "admin", made["id"]
    )
    assert server.cli_json("credential", "show", made["id"])["blob"] == "other"
    server.cli("credential", "delete", made["id"])
    bad = server.cli("credential", "create", "--type", "ec2", "admin", "not json", check=False)
    assert bad.returncode != 0


def test_an_ec2_credential_whose_access_changed(server: Server, admin: Any) -> None:
    """As Keystone, an EC2 credential's blob may get another access and secret (not another
    scope); its id stays the old access's hash, so neither access signs S3 requests then."""
    made = server.cli_json("ec2", "credentials", "create")
    cred_id = hashlib.sha256(made["access"].encode()).hexdigest()
    assert s3_client(server, made["access"], made["secret"]).list_buckets()["Buckets"] is not None
    new = {"access": uuid.uuid4().hex, "secret": uuid.uuid4().hex, "trust_id": None}
    updated = admin.identity.update_credential(cred_id, blob=json.dumps(new))
    assert json.loads(updated.blob) == new and updated.id == cred_id
    for access, secret in (
        (made["access"], made["secret"]),
        (made["access"], new["secret"]),
        (new["access"], new["secret"]),
    ):
        assert code_of(s3_client(server, access, secret).list_buckets) in (
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
        )
    for blob, text in (
        (json.dumps({**new, "trust_id": uuid.uuid4().hex}), "trust_id can not be updated"),
        ("not json", "not JSON"),
        (json.dumps({"secret": "s"}), "needs 'access'"),
    ):
        response = admin.identity.patch(
            f"/credentials/{cred_id}", json={"credential": {"blob": blob}}, raise_exc=False
        )
        assert response.status_code == 400 and text in response.text, response.text
    assert json.loads(admin.identity.get_credential(cred_id).blob) == new
    admin.identity.delete_credential(cred_id)


def test_other_users_cannot_read_my_credentials(
    server: Server, ec2: dict[str, str], tenant_factory: Callable[..., Tenant]
) -> None:
    tenant = tenant_factory()
    creds = tenant.conn.identity.credentials()
    assert ec2["access"] not in str([c.blob for c in creds])
    admin_id = server.cli_json("user", "show", "admin")["id"]
    response = tenant.conn.session.get(
        f"/users/{admin_id}/credentials/OS-EC2",
        endpoint_filter={"service_type": "identity"},
        raise_exc=False,
    )
    assert response.status_code == 403


def test_buckets_and_objects(s3: Any, bucket: str) -> None:
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=bucket)
    assert code_of(lambda: s3.create_bucket(Bucket=bucket)) == "BucketAlreadyOwnedByYou"
    body = b"hello from boto3"
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/a b.txt",
        Body=body,
        Metadata={"color": "red"},
        ContentType="text/plain",
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/a b.txt")
    assert got["Body"].read() == body and got["Metadata"] == {"color": "red"}
    assert got["ContentType"] == "text/plain"
    ranged = s3.get_object(Bucket=bucket, Key="dir/a b.txt", Range="bytes=6-9")
    assert ranged["Body"].read() == b"from" and ranged["ContentRange"] == f"bytes 6-9/{len(body)}"
    head = s3.head_object(Bucket=bucket, Key="dir/a b.txt")
    assert head["ContentLength"] == len(body)
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "dir/a b.txt"})
    assert s3.get_object(Bucket=bucket, Key="copy")["Metadata"] == {"color": "red"}
    s3.copy_object(
        Bucket=bucket,
        Key="copy2",
        CopySource=f"{bucket}/dir/a b.txt",
        MetadataDirective="REPLACE",
        Metadata={"new": "1"},
    )
    assert s3.head_object(Bucket=bucket, Key="copy2")["Metadata"] == {"new": "1"}
    assert code_of(lambda: s3.get_object(Bucket=bucket, Key="missing")) == "NoSuchKey"
    assert code_of(lambda: s3.head_object(Bucket=bucket, Key="missing")) == "404"
    assert code_of(lambda: s3.get_object(Bucket="no-such-bucket-here", Key="k")) in (
        "NoSuchKey",
        "NoSuchBucket",
    )
    assert (
        code_of(lambda: s3.put_object(Bucket="no-such-bucket-here", Key="k", Body=b""))
        == "NoSuchBucket"
    )
    assert code_of(lambda: s3.delete_bucket(Bucket=bucket)) == "BucketNotEmpty"
    s3.delete_object(Bucket=bucket, Key="missing")  # S3 answers 204 for a missing key
    deleted = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ("dir/a b.txt", "copy", "copy2")]}
    )
    assert len(deleted["Deleted"]) == 3
    s3.delete_bucket(Bucket=bucket)
    assert code_of(lambda: s3.head_bucket(Bucket=bucket)) == "404"


def test_listing_v1_and_v2(s3: Any, bucket: str) -> None:
    keys = ["a/1", "a/2", "b/1", "c"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    v2 = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in v2["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in v2["Contents"]] == ["c"]
    page = s3.list_objects_v2(Bucket=bucket, MaxKeys=2)
    assert page["IsTruncated"] and [o["Key"] for o in page["Contents"]] == ["a/1", "a/2"]
    rest = s3.list_objects_v2(Bucket=bucket, ContinuationToken=page["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == ["b/1", "c"] and not rest["IsTruncated"]
    paginated = [
        o["Key"]
        for p in s3.get_paginator("list_objects").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 1}
        )
        for o in p.get("Contents", [])
    ]
    assert paginated == keys
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket, Prefix="a/")["Contents"]] == [
        "a/1",
        "a/2",
    ]


def test_multipart_upload(s3: Any, bucket: str) -> None:
    first, second = b"x" * (5 * 1024 * 1024), b"tail"
    mp = s3.create_multipart_upload(
        Bucket=bucket, Key="big", ContentType="application/x-test", Metadata={"m": "1"}
    )
    upload = mp["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=first)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=2, Body=second)[
        "ETag"
    ]
    assert [
        p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="big", UploadId=upload)["Parts"]
    ] == [1, 2]
    wrong = {
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": '"' + "0" * 32 + '"'}]
    }
    assert (
        code_of(
            lambda: s3.complete_multipart_upload(
                Bucket=bucket, Key="big", UploadId=upload, MultipartUpload=wrong
            )
        )
        == "InvalidPart"
    )
    order = {"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]}
    assert (
        code_of(
            lambda: s3.complete_multipart_upload(
                Bucket=bucket, Key="big", UploadId=upload, MultipartUpload=order
            )
        )
        == "InvalidPartOrder"
    )
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    md5s = hashlib.md5(hashlib.md5(first).digest() + hashlib.md5(second).digest()).hexdigest()
    assert done["ETag"] == f'"{md5s}-2"'
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == first + second
    assert (
        got["ETag"] == done["ETag"]
        and got["Metadata"] == {"m": "1"}
        and got["ContentType"] == "application/x-test"
    )
    assert (
        s3.get_object(Bucket=bucket, Key="big", Range="bytes=5242878-5242881")["Body"].read()
        == b"xxta"
    )
    assert (
        code_of(
            lambda: s3.upload_part(
                Bucket=bucket, Key="big", UploadId=upload, PartNumber=3, Body=b""
            )
        )
        == "NoSuchUpload"
    )
    # an aborted upload leaves nothing; a small first part is refused at completion
    mp2 = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    p1 = s3.upload_part(Bucket=bucket, Key="small", UploadId=mp2, PartNumber=1, Body=b"small")[
        "ETag"
    ]
    p2 = s3.upload_part(Bucket=bucket, Key="small", UploadId=mp2, PartNumber=2, Body=b"small")[
        "ETag"
    ]
    parts = {"Parts": [{"PartNumber": 1, "ETag": p1}, {"PartNumber": 2, "ETag": p2}]}
    assert (
        code_of(
            lambda: s3.complete_multipart_upload(
                Bucket=bucket, Key="small", UploadId=mp2, MultipartUpload=parts
            )
        )
        == "EntityTooSmall"
    )
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=mp2)
    assert (
        code_of(lambda: s3.list_parts(Bucket=bucket, Key="small", UploadId=mp2)) == "NoSuchUpload"
    )
    s3.delete_object(Bucket=bucket, Key="big")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_list_multipart_uploads(s3: Any, bucket: str) -> None:
    keys = ["a/1", "a/2", "b", "b", "c/d/e", "top"]
    ids = [s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"] for k in keys]
    s3.upload_part(Bucket=bucket, Key="b", UploadId=ids[2], PartNumber=1, Body=b"part")
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == list(
        zip(keys, ids, strict=True)
    )
    assert listed["IsTruncated"] is False and "CommonPrefixes" not in listed
    assert listed["Uploads"][2]["Initiated"] <= listed["Uploads"][3]["Initiated"]

    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in grouped["Uploads"]] == ["b", "b", "top"]
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/", "c/"]
    nested = s3.list_multipart_uploads(Bucket=bucket, Prefix="c/", Delimiter="/")
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["c/d/"]
    assert "Uploads" not in nested
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")["Uploads"]] == [
        "a/1",
        "a/2",
    ]

    # paging: key-marker alone skips the key; with upload-id-marker, that key's later uploads
    page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=3)
    assert [u["Key"] for u in page["Uploads"]] == ["a/1", "a/2", "b"]
    assert page["IsTruncated"] is True and page["MaxUploads"] == 3
    assert (page["NextKeyMarker"], page["NextUploadIdMarker"]) == ("b", ids[2])
    rest = s3.list_multipart_uploads(
        Bucket=bucket, KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"]
    )
    assert [u["UploadId"] for u in rest["Uploads"]] == ids[3:]
    after_b = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="b")
    assert [u["Key"] for u in after_b["Uploads"]] == ["c/d/e", "top"]
    paginator = s3.get_paginator("list_multipart_uploads")
    every = [
        u["UploadId"]
        for pg in paginator.paginate(Bucket=bucket, MaxUploads=2)
        for u in pg.get("Uploads", [])
    ]
    assert every == ids

    # a completed or aborted upload is no longer listed; parts are never listed as uploads
    s3.abort_multipart_upload(Bucket=bucket, Key="top", UploadId=ids[5])
    assert "top" not in [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]]
    assert code_of(lambda: s3.list_multipart_uploads(Bucket=bucket, MaxUploads=-1)) == (
        "InvalidArgument"
    )
    assert code_of(lambda: s3.list_multipart_uploads(Bucket="bk-missing-bucket")) == (
        "NoSuchBucket"
    )
    for key, upload in zip(keys[:5], ids[:5], strict=True):
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_list_parts_pages(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    for number in (1, 2, 3, 7):
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=number, Body=b"p")
    first = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True and first["NextPartNumberMarker"] == 2
    rest = s3.list_parts(
        Bucket=bucket, Key="k", UploadId=upload, PartNumberMarker=first["NextPartNumberMarker"]
    )
    assert [p["PartNumber"] for p in rest["Parts"]] == [3, 7] and rest["IsTruncated"] is False
    paged = s3.get_paginator("list_parts").paginate(
        Bucket=bucket, Key="k", UploadId=upload, MaxParts=1
    )
    assert [p["PartNumber"] for pg in paged for p in pg["Parts"]] == [1, 2, 3, 7]
    assert (
        code_of(lambda: s3.list_parts(Bucket=bucket, Key="k", UploadId=upload, MaxParts=-1))
        == "InvalidArgument"
    )
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload)


def test_aws_cli(server: Server, ec2: dict[str, str], tmp_path: Path) -> None:
    """The AWS CLI's s3 and s3api commands, a multipart upload among them (over 8 MiB)."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ec2["access"],
        "AWS_SECRET_ACCESS_KEY": ec2["secret"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }

    def aws(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [AWS, "--endpoint-url", server.url + "/object-store/s3", *args]
        return subprocess.run(
            cmd, env=env, capture_output=True, text=True, check=check, timeout=120
        )

    bucket = f"cli-{uuid.uuid4().hex[:8]}"
    big = os.urandom(9 * 1024 * 1024 + 5)
    (tmp_path / "big.bin").write_bytes(big)
    (tmp_path / "small.txt").write_text("small one")
    aws("s3", "mb", f"s3://{bucket}")
    aws("s3", "cp", str(tmp_path / "big.bin"), f"s3://{bucket}/data/big.bin")
    aws("s3", "cp", str(tmp_path / "small.txt"), f"s3://{bucket}/small.txt")
    listed = aws("s3", "ls", "--recursive", f"s3://{bucket}").stdout
    assert "data/big.bin" in listed and "small.txt" in listed
    aws("s3", "cp", f"s3://{bucket}/data/big.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == big
    head = json.loads(
        aws("s3api", "head-object", "--bucket", bucket, "--key", "data/big.bin").stdout
    )
    assert head["ContentLength"] == len(big) and head["ETag"].endswith('-2"')  # multipart
    made = json.loads(
        aws("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "open").stdout
    )
    uploads = json.loads(aws("s3api", "list-multipart-uploads", "--bucket", bucket).stdout)
    assert [u["UploadId"] for u in uploads["Uploads"]] == [made["UploadId"]]
    aws(
        "s3api",
        "abort-multipart-upload",
        "--bucket",
        bucket,
        "--key",
        "open",
        "--upload-id",
        made["UploadId"],
    )
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    refused = aws("s3", "ls", f"s3://{bucket}", check=False)
    assert refused.returncode != 0 and "SignatureDoesNotMatch" in refused.stderr
    env["AWS_SECRET_ACCESS_KEY"] = ec2["secret"]
    aws("s3", "rb", "--force", f"s3://{bucket}")
    assert bucket not in aws("s3", "ls").stdout


def test_signatures_and_presigned_urls(
    server: Server, s3: Any, ec2: dict[str, str], bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="shared", Body=b"presigned body")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared"}, ExpiresIn=60
    )
    assert httpx.get(url).content == b"presigned body"
    tampered = url.replace("shared", "shared2")
    assert httpx.get(tampered).status_code == 403
    expired = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared"}, ExpiresIn=-10
    )
    assert "AccessDenied" in httpx.get(expired).text
    wrong = s3_client(server, ec2["access"], "not-the-secret")
    assert code_of(lambda: wrong.list_buckets()) == "SignatureDoesNotMatch"
    unknown = s3_client(server, "nobody", "nothing")
    assert code_of(lambda: unknown.list_buckets()) in (
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
    )
    assert httpx.get(server.url + "/object-store/s3/" + bucket).status_code == 403
    # the body must match the SHA-256 its signature declares: swap it after signing
    bad = s3_client(server, ec2["access"], ec2["secret"])

    def swap(request: Any, **_: Any) -> None:
        request.body = b"xyz"

    bad.meta.events.register("before-send.s3.PutObject", swap)
    assert (
        code_of(lambda: bad.put_object(Bucket=bucket, Key="tampered", Body=b"abc"))
        == "XAmzContentSHA256Mismatch"
    )
    assert code_of(lambda: s3.head_object(Bucket=bucket, Key="tampered")) == "404"


def test_virtual_hosted_buckets(server: Server, ec2: dict[str, str], bucket: str) -> None:
    virtual = boto3.client(
        "s3",
        endpoint_url=f"http://s3.test:{server.port}/object-store/s3",
        aws_access_key_id=ec2["access"],
        aws_secret_access_key=ec2["secret"],
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "virtual"},
            proxies={"http": server.url},
            retries={"max_attempts": 1},
        ),
    )
    virtual.put_object(Bucket=bucket, Key="v/key", Body=b"virtual")
    assert virtual.get_object(Bucket=bucket, Key="v/key")["Body"].read() == b"virtual"
    assert [o["Key"] for o in virtual.list_objects_v2(Bucket=bucket)["Contents"]] == ["v/key"]


def test_other_projects_buckets_are_invisible(
    server: Server, s3: Any, bucket: str, tenant_factory: Callable[..., Tenant]
) -> None:
    s3.put_object(Bucket=bucket, Key="mine", Body=b"private")
    tenant = tenant_factory()
    made = tenant.conn.identity.create_credential(
        type="ec2",
        user_id=tenant.user_id,
        project_id=tenant.project_id,
        blob=json.dumps({"access": uuid.uuid4().hex, "secret": "s"}),
    )
    theirs = s3_client(server, json.loads(made.blob)["access"], "s")
    assert bucket not in [b["Name"] for b in theirs.list_buckets()["Buckets"]]
    # their requests name their own account: the bucket does not exist there
    assert code_of(lambda: theirs.get_object(Bucket=bucket, Key="mine")) in (
        "NoSuchKey",
        "NoSuchBucket",
    )
    assert code_of(lambda: theirs.put_object(Bucket=bucket, Key="x", Body=b"")) == "NoSuchBucket"
