"""The matching rules, pure: key normalisation and the decision for one group of records.

No Django here, so the rules are unit- and property-tested on plain values. ``services``
feeds them what the database knows and stores what they decide.

The rules, in order (README, "Device inventory"):

1. **manual** — a record a person linked (or unlinked) stays where they put it; polls and
   ``rematch`` never move it. A manually linked record's keys are evidence for its device;
   a manually *unlinked* record's keys are not (the person said they mislead).
2. **mac** — records sharing a normalised MAC address (any adapter) are one device.
3. **serial** — records sharing a serial number are one device.
4. **hostname** — a record whose hostname (case-insensitive, domain suffix dropped) names
   exactly one device joins it, unless both carry MACs and none is shared (a reused name on
   another machine is not the same device).
5. **new** — otherwise the record is a device of its own.

If the strong keys (MAC, serial) of one group of records point at two or more devices, that
is a **conflict**: nothing is merged, the records stay where they were (or alone), and the
conflict is recorded on each record with the key, its value and the devices.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAC = "mac"
SERIAL = "serial"
HOSTNAME = "hostname"
STRONG = (MAC, SERIAL)

_HEX = re.compile(r"[^0-9a-f]")
#: MACs that name no adapter: all zeros, broadcast.
_NO_MAC = {"000000000000", "ffffffffffff"}
#: Hostnames that name no one machine.
_NO_HOST = {"", "localhost", "unknown", "<private>", "none", "null"}


def normalize_mac(value: object) -> str:
    """``aa:bb:cc:dd:ee:ff`` from any notation (``AA-BB-…``, ``aabb.ccdd.eeff``, bare hex,
    any case), or ``""`` when ``value`` is not one MAC-48 address (or is all zeros/broadcast)."""
    if not isinstance(value, str):
        return ""
    digits = _HEX.sub("", value.strip().lower())
    stripped = re.sub(r"[\s:.\-]", "", value.strip().lower())
    if len(digits) != 12 or stripped != digits or digits in _NO_MAC:
        return ""
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


#: An IPv4 or IPv6 address (or a bare number), which is not a host name.
_IP_LIKE = re.compile(r"[0-9.]+|[0-9a-f:]+:[0-9a-f:]*")


def normalize_hostname(value: object) -> str:
    """Lower-case hostname without its domain suffix (``WIN-01.corp.example`` → ``win-01``);
    ``""`` for empty or placeholder names. An IP address is not a hostname."""
    if not isinstance(value, str):
        return ""
    name = value.strip().lower().rstrip(".")
    if _IP_LIKE.fullmatch(name):
        return ""
    # The short name is checked again, so that normalising twice changes nothing ("0.a" → "").
    name = name.split(".", 1)[0].strip()
    return "" if name in _NO_HOST or _IP_LIKE.fullmatch(name) else name


def normalize_serial(value: object) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return ""
    serial = re.sub(r"\s+", "", str(value)).upper()
    return "" if serial.lower() in _NO_HOST or set(serial) <= {"0"} else serial


@dataclass(frozen=True, slots=True)
class RecordKeys:
    macs: frozenset[str] = frozenset()
    serials: frozenset[str] = frozenset()
    hostname: str = ""

    def items(self) -> list[tuple[str, str]]:
        """Every (kind, value), hostname included."""
        pairs = [(MAC, m) for m in sorted(self.macs)] + [(SERIAL, s) for s in sorted(self.serials)]
        return pairs + ([(HOSTNAME, self.hostname)] if self.hostname else [])

    def strong(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.items() if k in STRONG]


def record_keys(vendor: str, name: str, mac: str, data: Mapping[str, object] | None) -> RecordKeys:
    """The matching keys of one vendor record: every MAC it reports (``mac`` and
    ``data["macs"]``), its serial (``data["serial"]``), and its name as a hostname — except
    for Sensaphone, whose unit names ("Cold room 3") are labels, not hostnames."""
    data = data or {}
    listed = data.get("macs")
    raw_macs: list[object] = [mac, *(listed if isinstance(listed, list) else [])]
    macs = frozenset(m for m in (normalize_mac(v) for v in raw_macs) if m)
    serial = normalize_serial(data.get("serial"))
    hostname = "" if vendor == "sensaphone" else normalize_hostname(name)
    return RecordKeys(macs, frozenset([serial] if serial else []), hostname)


@dataclass(slots=True)
class Decision:
    """Where one record goes: an existing device, a new one (``device is None``), and why."""

    device: int | None
    rule: str
    key: str = ""
    value: str = ""
    conflict: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Evidence:
    """What the database knows about keys, from records *outside* the group being matched:
    ``(kind, value) → device ids``, and each device's MACs (for the hostname rule)."""

    by_key: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    device_macs: dict[int, set[str]] = field(default_factory=dict)


def group_records(keys: Mapping[int, RecordKeys]) -> list[list[int]]:
    """Records (by id) that share a strong key, as groups (union-find), in id order."""
    parent = {rid: rid for rid in keys}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[tuple[str, str], int] = {}
    for rid in sorted(keys):
        for key in keys[rid].strong():
            if key in owner:
                a, b = find(owner[key]), find(rid)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[key] = rid
    groups: dict[int, list[int]] = {}
    for rid in sorted(keys):
        groups.setdefault(find(rid), []).append(rid)
    return list(groups.values())


def decide(members: Iterable[RecordKeys], evidence: Evidence) -> Decision:
    """Rules 2–5 for one group of records that share strong keys among themselves."""
    members = list(members)
    hits: dict[int, tuple[str, str]] = {}
    for rk in members:
        for key in rk.strong():
            for device in sorted(evidence.by_key.get(key, ())):
                hits.setdefault(device, key)
    if len(hits) > 1:
        conflict = [
            {"key": k, "value": v, "devices": sorted(evidence.by_key.get((k, v), ()))}
            for k, v in sorted({key for rk in members for key in rk.strong()})
            if evidence.by_key.get((k, v))
        ]
        return Decision(None, "conflict", conflict=conflict)
    if hits:
        device, (kind, value) = next(iter(hits.items()))
        return Decision(device, kind, kind, value)
    return _by_hostname(members, evidence)


def _by_hostname(members: list[RecordKeys], evidence: Evidence) -> Decision:
    macs = set().union(*(rk.macs for rk in members))
    for name in sorted({rk.hostname for rk in members if rk.hostname}):
        devices = evidence.by_key.get((HOSTNAME, name), set())
        # A device whose MACs are all different from ours is another machine with the name.
        fitting = [d for d in devices if not macs or not evidence.device_macs.get(d)]
        if len(fitting) == 1:
            return Decision(fitting[0], HOSTNAME, HOSTNAME, name)
        if len(fitting) > 1:
            conflict = [{"key": HOSTNAME, "value": name, "devices": sorted(fitting)}]
            return Decision(None, "conflict", conflict=conflict)
    return Decision(None, "new")


def within_group(members: list[RecordKeys], decision: Decision) -> list[Decision]:
    """Each member's own reason when the group is a new device: the first is ``new``, every
    other one names a strong key it shares with an earlier member."""
    if decision.rule != "new" or len(members) < 2:
        return [decision] * len(members)
    reasons, seen = [decision], set(members[0].strong())
    for rk in members[1:]:
        shared = next((key for key in rk.strong() if key in seen), None)
        if shared is None:  # joined through a later member: name any key of the group
            shared = next(
                key
                for key in rk.strong()
                if any(key in other.strong() for other in members if other is not rk)
            )
        reasons.append(Decision(None, shared[0], shared[0], shared[1]))
        seen.update(rk.strong())
    return reasons
