"""Image references with Docker's normalisation.

`busybox` -> `docker.io/library/busybox:latest`; `me/app:1` ->
`docker.io/me/app:1`; `localhost:5000/x@sha256:...` keeps its registry.
`familiar()` turns a normalised name back into what `docker images` shows.
"""

from __future__ import annotations

from pallet.errors import InvalidArgument
from pallet.oci import digest as _digest
from pallet.values import frozen

DEFAULT_DOMAIN = "docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATTERNS = {
    "path": rf"{_COMPONENT}(?:/{_COMPONENT})*",
    "tag": r"[\w][\w.-]{0,127}",
    "domain": r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?",
}
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_TAG_HEAD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_TAG_CHARS = _TAG_HEAD | frozenset(".-")


def _matches(kind: str, text: str) -> bool:
    import re  # lazily: most references pass the fast checks below, and `re` costs ~4 ms of a `run`

    return re.fullmatch(_PATTERNS[kind], text) is not None


def _tag_ok(tag: str) -> bool:
    # fast path: ASCII word characters, a subset of what the pattern's Unicode \w accepts
    if 0 < len(tag) <= 128 and tag[0] in _TAG_HEAD and _TAG_CHARS.issuperset(tag):
        return True
    return _matches("tag", tag)


def _path_ok(path: str) -> bool:
    # fast path: components of [a-z0-9] only, which the pattern accepts
    if all(c and _ALNUM.issuperset(c) for c in path.split("/")):
        return True
    return _matches("path", path)


@frozen
class Reference:
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        """Fully qualified repository: `docker.io/library/busybox`."""
        return f"{self.domain}/{self.path}"

    @property
    def name(self) -> str:
        """`repository:tag` (or `@digest`) fully qualified."""
        s = self.repository
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    @property
    def familiar_repository(self) -> str:
        return familiar_repository(self.repository)

    def __str__(self) -> str:
        return self.name


def familiar_repository(repository: str) -> str:
    """`docker.io/library/busybox` -> `busybox`; `docker.io/me/app` -> `me/app`."""
    if repository.startswith(DEFAULT_DOMAIN + "/"):
        rest = repository[len(DEFAULT_DOMAIN) + 1:]
        if rest.startswith(OFFICIAL_PREFIX) and "/" not in rest[len(OFFICIAL_PREFIX):]:
            rest = rest[len(OFFICIAL_PREFIX):]
        return rest
    return repository


def familiar(name: str) -> str:
    """A normalised `repo:tag` shown the way Docker shows it."""
    repo, sep, tag = split_tag(name)
    return familiar_repository(repo) + (sep + tag if sep else "")


def split_tag(name: str) -> tuple[str, str, str]:
    """Split `host:5000/repo:tag` into (`host:5000/repo`, `:`, `tag`); no tag gives ('...', '', '')."""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], ":", name[colon + 1:]
    return name, "", ""


def parse(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalise a reference; `default_tag` adds `:latest` when neither tag nor digest is given."""
    original = text
    if not text or text != text.strip():
        raise InvalidArgument(f"invalid reference format: {original!r}")
    digest = ""
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _digest.is_digest(digest):
            raise InvalidArgument(f"invalid reference format: {original!r}: bad digest")
    name, sep, tag = split_tag(text)
    if sep and not _tag_ok(tag):
        raise InvalidArgument(f"invalid reference format: {original!r}: bad tag {tag!r}")
    first, slash, remainder = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        domain, path = first, remainder
        if not _matches("domain", domain):
            raise InvalidArgument(f"invalid reference format: {original!r}: bad registry {domain!r}")
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if any(c.isupper() for c in path):
        raise InvalidArgument(f"invalid reference format: repository name ({path}) must be lowercase")
    if not _path_ok(path):
        raise InvalidArgument(f"invalid reference format: {original!r}")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    if len(domain) + 1 + len(path) > 255:
        raise InvalidArgument(f"invalid reference format: {original!r}: repository name too long")
    if not tag and not digest and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain=domain, path=path, tag=tag, digest=digest)


def looks_like_reference(text: str) -> bool:
    try:
        parse(text)
        return True
    except InvalidArgument:
        return False
