"""Digests, chain IDs, references (Docker's normalisation) and the image-spec models."""

import hashlib
import json

import pytest

from pallet.errors import InvalidArgument
from pallet.oci import digest, image, reference


@pytest.mark.parametrize("text,name,familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("me/app:1", "docker.io/me/app:1", "me/app:1"),
    ("docker.io/library/alpine", "docker.io/library/alpine:latest", "alpine:latest"),
    ("index.docker.io/library/alpine:3", "docker.io/library/alpine:3", "alpine:3"),
    ("localhost:5000/x/y:z", "localhost:5000/x/y:z", "localhost:5000/x/y:z"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("quay.io/a/b", "quay.io/a/b:latest", "quay.io/a/b:latest"),
])
def test_reference_normalisation(text, name, familiar):
    r = reference.parse(text)
    assert r.name == name
    assert reference.familiar(r.name) == familiar


def test_reference_with_digest_has_no_default_tag():
    d = "sha256:" + "ab" * 32
    r = reference.parse(f"busybox@{d}")
    assert r.tag == "" and r.digest == d
    assert r.name == f"docker.io/library/busybox@{d}"


@pytest.mark.parametrize("bad", ["", "Busybox", "a b", "a:b:c:", "busybox:" + "x" * 200, "x@sha256:12", ":tag", "-a"])
def test_reference_refused(bad):
    with pytest.raises(InvalidArgument):
        reference.parse(bad)


def test_split_tag_keeps_registry_port():
    assert reference.split_tag("localhost:5000/app") == ("localhost:5000/app", "", "")
    assert reference.split_tag("localhost:5000/app:v1") == ("localhost:5000/app", ":", "v1")


def test_digest_validation():
    good = "sha256:" + "0" * 64
    assert digest.validate(good) == good
    for bad in ("sha256:xyz", "md5:" + "0" * 32, "sha256:" + "0" * 63, "0" * 64):
        with pytest.raises(InvalidArgument):
            digest.validate(bad)


def test_chain_ids_follow_the_spec():
    a, b, c = ("sha256:" + x * 64 for x in "abc")
    ids = digest.chain_ids([a, b, c])
    assert ids[0] == a
    assert ids[1] == "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert ids[2] == "sha256:" + hashlib.sha256(f"{ids[1]} {c}".encode()).hexdigest()


def test_manifest_round_trip_and_bad_field_named():
    cfg = image.Descriptor(media_type=image.OCI_CONFIG, digest="sha256:" + "1" * 64, size=10)
    lay = image.Descriptor(media_type=image.OCI_LAYER_GZIP, digest="sha256:" + "2" * 64, size=20)
    m = image.Manifest(config=cfg, layers=(lay,))
    again = image.Manifest.from_bytes(m.to_bytes())
    assert again == m
    obj = json.loads(m.to_bytes())
    del obj["layers"][0]["digest"]
    with pytest.raises(InvalidArgument, match="layer 0.*digest"):
        image.Manifest.from_bytes(json.dumps(obj).encode())


def test_image_config_keeps_unknown_fields():
    raw = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "3" * 64]},
           "history": [{"created_by": "x"}], "container_config": {"Hostname": "h"}}
    cfg = image.ImageConfig.from_bytes(json.dumps(raw).encode())
    assert cfg.config == {"Cmd": ["sh"]} and cfg.extra == {"container_config": {"Hostname": "h"}}
    assert json.loads(cfg.to_bytes())["container_config"] == {"Hostname": "h"}
    with pytest.raises(InvalidArgument, match="rootfs"):
        image.ImageConfig.from_bytes(b'{"os": "linux"}')
    with pytest.raises(InvalidArgument, match="not JSON"):
        image.ImageConfig.from_bytes(b"{")


def test_fast_checks_agree_with_the_patterns():
    # the regex-free fast paths of reference and digest must accept exactly what the patterns accept
    import random
    import re

    from pallet.oci import digest, reference

    rng = random.Random(7)
    alphabet = "abcz09AZ_.-/:@é" + "0123456789abcdef"
    samples = ["", "a", "A", "_x", ".x", "-x", "x" * 128, "x" * 129, "a..b", "a__b", "a___b", "a--b", "a/b", "a//b",
               "/a", "a/", "ünï", "sha256:" + "a" * 64, "sha256:" + "A" * 64, "sha512:" + "f" * 128, "sha1:" + "a" * 40]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(4000)]
    old_digest = re.compile(r"([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-f0-9]+)")
    for s in samples:
        assert reference._tag_ok(s) == bool(re.fullmatch(reference._PATTERNS["tag"], s)), s
        assert reference._path_ok(s) == bool(re.fullmatch(reference._PATTERNS["path"], s)), s
        m = old_digest.fullmatch(s)
        assert digest.is_digest(s) == bool(m and {"sha256": 64, "sha512": 128}.get(m.group(1)) == len(m.group(2))), s
    for hexlen in (64, 128):
        for algo in ("sha256", "sha512"):
            s = algo + ":" + "0123456789abcdef"[:16] * (hexlen // 16)
            m = old_digest.fullmatch(s)
            assert digest.is_digest(s) == bool(m and {"sha256": 64, "sha512": 128}.get(m.group(1)) == hexlen), s
