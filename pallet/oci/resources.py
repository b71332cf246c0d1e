"""`linux.resources` of the OCI runtime spec as frozen values.

`LinuxResources.from_json(d)` validates and names the bad field in a
one-line InvalidArgument ("linux.resources.memory.limit: -5 is negative").
Unset fields are None, so a partial document (an `update`) overlays a
full one with `merged()`. The cgroup controllers read these values; the
conventions of the spec they rely on:

- memory.limit/swap/reservation/kernel: bytes, -1 means unlimited, 0 unset;
- cpu.quota: microseconds per period, -1 (or any negative) unlimited;
- pids.limit: -1 or 0 unlimited (runc treats <= 0 as "max");
- devices: rules in order, the last matching one wins; major/minor
  None (or -1) is the wildcard.

Values are `runtime_spec.frozen` classes, not dataclasses, and nothing
here imports `re` or `typing`: this module is on the path of every
`pallet-runtime create` (see runtime_spec's docstring for the cost).
"""

from __future__ import annotations

from pallet.errors import InvalidArgument
from pallet.values import frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

PREFIX = "linux.resources"

# --- field readers: (value, path) -> value, raising InvalidArgument ---------


def _bad(path: str, value: Any, why: str) -> InvalidArgument:
    return InvalidArgument(f"{path}: {value!r} {why}")


def _int(min_value: int | None = None, max_value: int | None = None) -> Callable[[Any, str], int]:
    def read(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(path, value, "is not an integer")
        if min_value is not None and value < min_value:
            raise _bad(path, value, "is negative" if min_value >= -1 and value < 0 else f"is below {min_value}")
        if max_value is not None and value > max_value:
            raise _bad(path, value, f"is above {max_value}")
        return value
    return read


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(path, value, "is not a boolean")
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _bad(path, value, "is not a string")
    return value


def _cpu_list(value: Any, path: str) -> str:
    """"0-2,4" (or empty: the parent's)."""
    value = _str(value, path)
    if not value.strip():
        return value
    for part in value.split(","):
        lo, dash, hi = part.partition("-")
        if not (lo.isdigit() and lo.isascii()) or (dash and not (hi.isdigit() and hi.isascii())):
            raise _bad(path, value, "is not a list like 0-2,4")
        if hi and int(hi) < int(lo):
            raise _bad(path, value, "has a range that ends before it starts")
    return value


UNLIMITED_OR_BYTES = _int(-1)       # -1 unlimited, 0 unset, >0 bytes
NON_NEGATIVE = _int(0)
UINT32 = _int(0, 2**32 - 1)
UINT64 = _int(0, 2**64 - 1)


def _read_fields(cls: type, doc: Any, path: str, readers: dict[str, tuple[str, Callable]]) -> dict:
    """Read `doc` (a JSON object) with `readers` {json key: (attr, reader)}."""
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise _bad(path, doc, "is not an object")
    out = {}
    for key, value in doc.items():
        if key not in readers or value is None:
            continue  # unknown keys are ignored, as the spec allows extensions
        attr, reader = readers[key]
        out[attr] = reader(value, f"{path}.{key}")
    return out


def _to_json(obj: Any, readers: dict[str, tuple[str, Callable]]) -> dict:
    out = {}
    for key, (attr, _) in readers.items():
        value = getattr(obj, attr)
        if value is None:
            continue
        if isinstance(value, tuple):
            value = [v.to_json() if hasattr(v, "to_json") else v for v in value]
        elif hasattr(value, "to_json"):
            value = value.to_json()
        out[key] = value
    return out


def _list_of(cls: Any) -> Callable[[Any, str], tuple]:
    def read(value: Any, path: str) -> tuple:
        if not isinstance(value, list):
            raise _bad(path, value, "is not a list")
        return tuple(cls.from_json(item, f"{path}[{i}]") for i, item in enumerate(value))
    return read


def _object(cls: Any) -> Callable[[Any, str], Any]:
    return lambda value, path: cls.from_json(value, path)


class _Section:
    """from_json/to_json/merged for a frozen class with a READERS table
    ({json key: (attribute, reader)}; a plain class attribute, not a field)."""

    READERS = {}  # type: dict[str, tuple[str, Callable]]

    @classmethod
    def from_json(cls, doc: Any, path: str):
        obj = cls(**_read_fields(cls, doc, path, cls.READERS))
        obj._check(path)
        return obj

    def _check(self, path: str) -> None:
        """Cross-field checks; one InvalidArgument naming the field."""

    def to_json(self) -> dict:
        return _to_json(self, self.READERS)

    def merged(self, other):
        """`self` with every field `other` sets replaced (runc update's overlay)."""
        if other is None:
            return self
        changes = {n: getattr(other, n) for n in other.__fields__ if getattr(other, n) is not None}
        return self.replace(**changes)


# --- sections ----------------------------------------------------------------


@frozen
class DeviceRule(_Section):
    allow: bool = False
    type: str = "a"              # a (all), b (block), c (char)
    major: int | None = None     # None = any
    minor: int | None = None
    access: str = "rwm"

    READERS = {
        "allow": ("allow", _bool), "type": ("type", _str),
        "major": ("major", _int(-1)), "minor": ("minor", _int(-1)), "access": ("access", _str),
    }

    @classmethod
    def from_json(cls, doc: Any, path: str):
        if isinstance(doc, dict) and "allow" not in doc:
            raise _bad(f"{path}.allow", None, "is missing")
        obj = super().from_json(doc, path)
        # -1 is the spec's other spelling of the wildcard: keep one form.
        return obj.replace(major=None if obj.major == -1 else obj.major,
                           minor=None if obj.minor == -1 else obj.minor)

    def _check(self, path: str) -> None:
        if self.type not in ("a", "b", "c"):
            raise _bad(f"{path}.type", self.type, "is not one of a, b, c")
        if not self.access or set(self.access) - set("rwm"):
            raise _bad(f"{path}.access", self.access, "is not a combination of r, w, m")


@frozen
class Memory(_Section):
    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None           # memory + swap, as v1's memsw
    kernel: int | None = None
    kernel_tcp: int | None = None
    swappiness: int | None = None
    disable_oom_killer: bool | None = None
    use_hierarchy: bool | None = None
    check_before_update: bool | None = None

    READERS = {
        "limit": ("limit", UNLIMITED_OR_BYTES), "reservation": ("reservation", UNLIMITED_OR_BYTES),
        "swap": ("swap", UNLIMITED_OR_BYTES), "kernel": ("kernel", UNLIMITED_OR_BYTES),
        "kernelTCP": ("kernel_tcp", UNLIMITED_OR_BYTES),
        # Docker sends -1 for "unset"; anything above 100 is an error (runc).
        "swappiness": ("swappiness", _int(-1, 100)),
        "disableOOMKiller": ("disable_oom_killer", _bool), "useHierarchy": ("use_hierarchy", _bool),
        "checkBeforeUpdate": ("check_before_update", _bool),
    }

    def _check(self, path: str) -> None:
        if self.swap and self.swap > 0 and self.limit and self.limit > 0 and self.swap < self.limit:
            raise InvalidArgument(f"{path}.swap: {self.swap} is below memory.limit {self.limit} "
                                  "(swap counts memory plus swap)")


@frozen
class CPU(_Section):
    shares: int | None = None
    quota: int | None = None
    burst: int | None = None
    period: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: int | None = None

    READERS = {
        "shares": ("shares", UINT64), "quota": ("quota", _int(-1)), "burst": ("burst", UINT64),
        "period": ("period", UINT64), "realtimeRuntime": ("realtime_runtime", _int(-1)),
        "realtimePeriod": ("realtime_period", UINT64), "cpus": ("cpus", _cpu_list),
        "mems": ("mems", _cpu_list), "idle": ("idle", _int(0, 1)),
    }


@frozen
class Pids(_Section):
    limit: int | None = None

    READERS = {"limit": ("limit", _int(-1))}


@frozen
class WeightDevice(_Section):
    major: int = 0
    minor: int = 0
    weight: int | None = None
    leaf_weight: int | None = None

    READERS = {
        "major": ("major", NON_NEGATIVE), "minor": ("minor", NON_NEGATIVE),
        "weight": ("weight", _int(0, 1000)), "leafWeight": ("leaf_weight", _int(0, 1000)),
    }


@frozen
class ThrottleDevice(_Section):
    major: int = 0
    minor: int = 0
    rate: int = 0

    READERS = {"major": ("major", NON_NEGATIVE), "minor": ("minor", NON_NEGATIVE),
               "rate": ("rate", UINT64)}

    @classmethod
    def from_json(cls, doc: Any, path: str):
        if isinstance(doc, dict) and "rate" not in doc:
            raise _bad(f"{path}.rate", None, "is missing")
        return super().from_json(doc, path)


def _blkio_weight(value: Any, path: str) -> int:
    value = _int(0, 1000)(value, path)
    if 0 < value < 10:
        raise _bad(path, value, "is not 0 or in 10..1000")
    return value


@frozen
class BlockIO(_Section):
    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: tuple[WeightDevice, ...] | None = None
    throttle_read_bps: tuple[ThrottleDevice, ...] | None = None
    throttle_write_bps: tuple[ThrottleDevice, ...] | None = None
    throttle_read_iops: tuple[ThrottleDevice, ...] | None = None
    throttle_write_iops: tuple[ThrottleDevice, ...] | None = None

    READERS = {
        "weight": ("weight", _blkio_weight), "leafWeight": ("leaf_weight", _blkio_weight),
        "weightDevice": ("weight_device", _list_of(WeightDevice)),
        "throttleReadBpsDevice": ("throttle_read_bps", _list_of(ThrottleDevice)),
        "throttleWriteBpsDevice": ("throttle_write_bps", _list_of(ThrottleDevice)),
        "throttleReadIOPSDevice": ("throttle_read_iops", _list_of(ThrottleDevice)),
        "throttleWriteIOPSDevice": ("throttle_write_iops", _list_of(ThrottleDevice)),
    }


def _page_size(value: Any, path: str) -> str:
    value = _str(value, path)
    number, unit = value[:-2], value[-2:]
    if unit not in ("KB", "MB", "GB") or not (number.isdigit() and number.isascii()):
        raise _bad(path, value, "is not a page size like 2MB or 1GB")
    return value


@frozen
class HugepageLimit(_Section):
    page_size: str = ""
    limit: int = 0

    READERS = {"pageSize": ("page_size", _page_size), "limit": ("limit", UINT64)}

    @classmethod
    def from_json(cls, doc: Any, path: str):
        if isinstance(doc, dict) and "pageSize" not in doc:
            raise _bad(f"{path}.pageSize", None, "is missing")
        return super().from_json(doc, path)


@frozen
class InterfacePriority(_Section):
    name: str = ""
    priority: int = 0

    READERS = {"name": ("name", _str), "priority": ("priority", UINT32)}


@frozen
class Network(_Section):
    class_id: int | None = None
    priorities: tuple[InterfacePriority, ...] | None = None

    READERS = {"classID": ("class_id", UINT32),
               "priorities": ("priorities", _list_of(InterfacePriority))}


def _unified(value: Any, path: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise _bad(path, value, "is not an object")
    out = []
    for key, val in value.items():
        # A key is a file in the container's cgroup dir: no path separators,
        # or a spec could write anywhere in the cgroupfs.
        if not isinstance(key, str) or "/" in key or key in ("", ".", "..") or "." not in key:
            raise _bad(f"{path}", key, "is not a cgroup file name like memory.high")
        out.append((key, _str(val, f"{path}.{key}")))
    return tuple(out)


def _rdma(value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _bad(path, value, "is not an object")
    return tuple(sorted((k, tuple(sorted(v.items()))) for k, v in value.items()))


@frozen
class LinuxResources(_Section):
    devices: tuple[DeviceRule, ...] | None = None
    memory: Memory | None = None
    cpu: CPU | None = None
    pids: Pids | None = None
    block_io: BlockIO | None = None
    hugepage_limits: tuple[HugepageLimit, ...] | None = None
    network: Network | None = None
    rdma: Any = None
    unified: tuple[tuple[str, str], ...] | None = None

    READERS = {
        "devices": ("devices", _list_of(DeviceRule)),
        "memory": ("memory", _object(Memory)), "cpu": ("cpu", _object(CPU)),
        "pids": ("pids", _object(Pids)), "blockIO": ("block_io", _object(BlockIO)),
        "hugepageLimits": ("hugepage_limits", _list_of(HugepageLimit)),
        "network": ("network", _object(Network)), "rdma": ("rdma", _rdma),
        "unified": ("unified", _unified),
    }

    @classmethod
    def from_json(cls, doc: Any, path: str = PREFIX) -> "LinuxResources":
        return super().from_json(doc or {}, path)

    def to_json(self) -> dict:
        out = _to_json(self, self.READERS)
        if self.unified is not None:
            out["unified"] = dict(self.unified)
        if self.rdma is not None:
            out["rdma"] = {k: dict(v) for k, v in self.rdma}
        return out

    def merged(self, other: "LinuxResources | None") -> "LinuxResources":
        """Overlay `other` section by section (an update keeps what it doesn't name)."""
        if other is None:
            return self
        changes: dict[str, Any] = {}
        for name in self.__fields__:
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is None:
                continue
            changes[name] = mine.merged(theirs) if isinstance(mine, _Section) else theirs
        return self.replace(**changes)
