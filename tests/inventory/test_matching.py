"""The pure matching rules: normalisation (property tests) and decisions."""

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetwatch.inventory import matching
from fleetwatch.inventory.matching import Evidence, RecordKeys

octets = st.lists(st.integers(0, 255), min_size=6, max_size=6).filter(
    lambda o: o not in ([0] * 6, [255] * 6)
)


def spellings(o: list[int]) -> list[str]:
    hex_ = "".join(f"{b:02x}" for b in o)
    pairs = [hex_[i : i + 2] for i in range(0, 12, 2)]
    return [
        ":".join(pairs),
        ":".join(pairs).upper(),
        "-".join(pairs).upper(),
        hex_,
        hex_.upper(),
        ".".join(hex_[i : i + 4] for i in range(0, 12, 4)),
        f"  {':'.join(pairs)}  ",
    ]


@settings(deadline=None)  # a loaded CI machine is no failure of the rules
@given(octets)
def test_every_mac_notation_normalises_to_one_value(o):
    expected = ":".join(f"{b:02x}" for b in o)
    assert {matching.normalize_mac(s) for s in spellings(o)} == {expected}


@settings(deadline=None)  # a loaded CI machine is no failure of the rules
@given(octets)
def test_mac_normalisation_is_idempotent(o):
    once = matching.normalize_mac(spellings(o)[2])
    assert matching.normalize_mac(once) == once


@settings(deadline=None)  # a loaded CI machine is no failure of the rules
@given(st.text(max_size=30))
def test_mac_normalisation_returns_a_canonical_mac_or_nothing(text):
    out = matching.normalize_mac(text)
    assert out == "" or (len(out) == 17 and matching.normalize_mac(out) == out)


def test_non_macs_are_rejected():
    for value in (
        "",
        "00:00:00:00:00:00",
        "FF-FF-FF-FF-FF-FF",
        "aa:bb:cc:dd:ee",
        "zz:bb:cc:dd:ee:ff",
        "aa:bb:cc:dd:ee:ff:00",
        None,
        12,
        "<private>",
    ):
        assert matching.normalize_mac(value) == ""


hostnames = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True).filter(
    lambda h: h.lower() not in {"localhost", "unknown", "none", "null"}
)
domains = st.from_regex(r"(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)


@settings(deadline=None)  # a loaded CI machine is no failure of the rules
@given(hostnames, domains, st.sampled_from([str.lower, str.upper, str.title]))
def test_hostname_ignores_case_and_domain(host, domain, case):
    assert matching.normalize_hostname(case(host + domain)) == host.lower()


@settings(deadline=None)  # a loaded CI machine is no failure of the rules
@given(st.text(max_size=40))
def test_hostname_normalisation_is_idempotent(text):
    once = matching.normalize_hostname(text)
    assert matching.normalize_hostname(once) == once


def test_ip_addresses_and_placeholders_are_no_hostnames():
    for value in ("10.0.0.1", "fe80::1", "localhost", "", "<private>", None):
        assert matching.normalize_hostname(value) == ""


def test_record_keys_take_every_mac_and_serial():
    keys = matching.record_keys(
        "metaaccess",
        "WIN-01.corp.example",
        "3C-52-82-00-00-01",
        {"macs": ["3C:52:82:00:00:01", "aa:bb:cc:dd:ee:ff"], "serial": "sn 12"},
    )
    assert keys.macs == {"3c:52:82:00:00:01", "aa:bb:cc:dd:ee:ff"}
    assert keys.serials == {"SN12"}
    assert keys.hostname == "win-01"


def test_sensaphone_names_are_labels_not_hostnames():
    keys = matching.record_keys("sensaphone", "Cold room", "", {"serial": "SP123"})
    assert keys.hostname == "" and keys.serials == {"SP123"}


def rk(macs=(), host="", serials=()):
    return RecordKeys(frozenset(macs), frozenset(serials), host)


def test_mac_beats_a_different_hostname():
    ev = Evidence(by_key={("mac", "m1"): {7}, ("hostname", "desktop-x"): {9}})
    d = matching.decide([rk(["m1"], "desktop-x")], ev)
    assert (d.device, d.rule, d.key, d.value) == (7, "mac", "mac", "m1")


def test_one_mac_group_pointing_at_two_devices_is_a_conflict():
    ev = Evidence(by_key={("mac", "m1"): {1}, ("mac", "m2"): {2}})
    d = matching.decide([rk(["m1", "m2"])], ev)
    assert d.device is None and d.rule == "conflict"
    assert {c["value"] for c in d.conflict} == {"m1", "m2"}


def test_hostname_links_only_without_contradicting_macs():
    ev = Evidence(by_key={("hostname", "h"): {3}}, device_macs={3: {"m9"}})
    assert matching.decide([rk([], "h")], ev).device == 3
    assert matching.decide([rk(["m1"], "h")], ev).rule == "new"
    ev.device_macs = {}
    assert matching.decide([rk(["m1"], "h")], ev).device == 3


def test_records_sharing_a_mac_form_one_group():
    keys = {1: rk(["a"]), 2: rk(["b"]), 3: rk(["a", "b"]), 4: rk(["c"])}
    assert matching.group_records(keys) == [[1, 2, 3], [4]]
