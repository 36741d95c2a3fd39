"""Advisory store: loading and validation, vendor aliases, version ranges, matching real products."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from assetmap.advisories import AdvisoryStore
from assetmap.vendors import default_vendors


def _store(tmp_path: Path, advisories: list[dict[str, Any]], name: str = "adv.yaml") -> AdvisoryStore:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"advisories": advisories}))
    return AdvisoryStore.load([path])


def _adv(id_: str, vendor: str, products: list[str], versions: list[dict[str, str]] | None = None) -> dict[str, Any]:
    affected: dict[str, Any] = {"vendor": vendor, "products": products}
    if versions is not None:
        affected["versions"] = versions
    return {"id": id_, "title": f"test {id_}", "cve": ["CVE-2099-0001"], "affected": [affected]}


def _asset(vendor: str | None, product: str | None, firmware: str | None, **identity: Any) -> dict[str, Any]:
    return {"vendor": vendor, "product": product, "firmware": firmware, "identity": identity, "fingerprint": None}


# -- the bundled store -------------------------------------------------------------------------
def test_bundled_store_loads_and_has_real_ids() -> None:
    store = AdvisoryStore.bundled()
    ids = {a.id for a in store.advisories}
    assert {"SSA-818183", "SSA-731239", "SSA-306710", "SSA-508982", "CVE-2022-25761"} <= ids
    cves = {c for a in store.advisories for c in a.record.get("cve", [])}
    assert {"CVE-2016-3949", "CVE-2016-9158", "CVE-2016-9159", "CVE-2018-16561", "CVE-2019-18336"} <= cves


def test_bundled_folder_loads_through_load_too() -> None:
    folder = Path(__file__).resolve().parents[1] / "assetmap" / "data" / "advisories"
    assert len(AdvisoryStore.load(folder)) == len(AdvisoryStore.bundled())


# -- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("advisory", "message"),
    [
        ({"id": "X-1", "title": "t"}, "affected"),
        ({**_adv("X-1", "Siemens", ["a"]), "cve": ["CVE-16-1"]}, "CVE-16-1"),
        ({**_adv("X-1", "Siemens", ["a"]), "cnvd": ["CNVD-x"]}, "CNVD-x"),
        (_adv("X-1", "Siemens", ["a"], [{"before": "1.0"}]), "before"),
        (_adv("X-1", "Siemens", ["("]), "("),
        (_adv("X-1", "", ["a"]), "vendor"),
        (_adv("X-1", "Siemens", []), "products"),
        (_adv("X-1", "Siemens", ["a"], [{"lt": "latest"}]), "latest"),
        ({**_adv("X-1", "Siemens", ["a"]), "cvss": {"version": "3.1", "score": 11}}, "cvss"),
    ],
)
def test_invalid_advisory_is_rejected_naming_the_file(tmp_path: Path, advisory: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as exc:
        _store(tmp_path, [advisory])
    assert "adv.yaml" in str(exc.value)
    assert message in str(exc.value)


def test_duplicate_ids_across_files_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"advisories": [_adv("X-1", "Siemens", ["a"])]}))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"advisories": [_adv("X-1", "Siemens", ["b"])]}))
    with pytest.raises(ValueError, match="X-1"):
        AdvisoryStore.load(tmp_path)


@pytest.mark.parametrize("text", ["", "advisories: [", "- a list\n", "advisories: 3\n"])
def test_unreadable_or_wrong_shape_files_are_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match="bad.yaml"):
        AdvisoryStore.load([path])


# -- vendor aliases ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Siemens AG", "Siemens"),
        ("SIEMENS", "Siemens"),
        ("siemens", "Siemens"),
        ("Siemens Industrial Automation Products Ltd., Chengdu", "Siemens"),
        ("Schneider Electric", "Schneider Electric"),
        ("Telemecanique", "Schneider Electric"),
        ("Allen-Bradley", "Rockwell Automation"),
        ("PHOENIX CONTACT Electronics GmbH", "Phoenix Contact"),
        ("WAGO Kontakttechnik GmbH", "WAGO"),
        ("Weidmüller Interface GmbH & Co. KG", "Weidmueller"),
        ("Endress & Hauser GmbH & Co", "Endress+Hauser"),
    ],
)
def test_vendor_aliases(name: str, canonical: str) -> None:
    assert default_vendors().canonical(name) == canonical


def test_unrelated_names_are_not_merged() -> None:
    v = default_vendors()
    assert v.key("Rockwell Collins") != v.key("Rockwell Automation")
    assert v.key("Nokia Siemens Networks") != v.key("Siemens")
    assert v.key("Acme GmbH") == v.key("ACME")  # unknown vendors still compare by normalised name
    assert v.canonical("") is None and v.canonical(None) is None


@pytest.mark.parametrize("asset_vendor", ["Siemens", "SIEMENS AG", "siemens"])
@pytest.mark.parametrize("advisory_vendor", ["Siemens AG", "SIEMENS", "siemens"])
def test_match_through_vendor_aliases(tmp_path: Path, asset_vendor: str, advisory_vendor: str) -> None:
    store = _store(tmp_path, [_adv("X-1", advisory_vendor, ["^CPU 315"])])
    assert [m["id"] for m in store.match(_asset(asset_vendor, "CPU 315-2 PN/DP", "V3.2.6"))] == ["X-1"]


def test_other_vendor_same_product_does_not_match(tmp_path: Path) -> None:
    store = _store(tmp_path, [_adv("X-1", "Siemens", ["^CPU 315"])])
    assert store.match(_asset("Schneider Electric", "CPU 315-2 PN/DP", "V3.2.6")) == []
    assert store.match(_asset(None, "CPU 315-2 PN/DP", "V3.2.6")) == []


def test_vendor_from_identity_or_oui_is_enough(tmp_path: Path) -> None:
    store = _store(tmp_path, [_adv("X-1", "Siemens", ["^CPU 315"])])
    assert store.match(_asset(None, None, None, module_type_name="CPU 315-2 PN/DP", oui_vendor="Siemens"))


# -- version ranges ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("firmware", "ranges", "status"),
    [
        ("V3.2.10", [{"lt": "3.2.9"}], None),  # multi-part: 10 > 9
        ("V3.2.10", [{"lt": "3.2.11"}], "affected"),
        ("2.6.3", [{"le": "2.6"}], None),  # 2.6.3 > 2.6
        ("2.6.0", [{"le": "2.6"}], "affected"),  # inclusive upper bound
        ("2.6.0", [{"lt": "2.6"}], None),  # exclusive upper bound
        ("1.2", [{"ge": "1.2", "lt": "1.4"}], "affected"),  # inclusive lower bound
        ("1.2", [{"gt": "1.2", "lt": "1.4"}], None),  # exclusive lower bound
        ("1.4", [{"ge": "1.2", "lt": "1.4"}], None),
        ("1.2.7", [{"lt": "1.2.5"}, {"ge": "1.3-rc1", "lt": "1.3.1"}], None),  # between two ranges
        ("1.3.0", [{"lt": "1.2.5"}, {"ge": "1.3-rc1", "lt": "1.3.1"}], "affected"),
        ("V3.2.15", [{"lt": "V3.X.16"}], "affected"),  # Siemens wildcard
        ("V3.2.16", [{"lt": "V3.X.16"}], None),
        (None, [{"lt": "1.0"}], "possible"),  # unknown version with a bounded range
        ("unknown", [{"lt": "1.0"}], "possible"),
        (None, None, "affected"),  # no ranges: all versions
    ],
)
def test_version_ranges(tmp_path: Path, firmware: str | None, ranges: Any, status: str | None) -> None:
    store = _store(tmp_path, [_adv("X-1", "Siemens", ["^CPU 315"], ranges)])
    found = store.match(_asset("Siemens", "CPU 315-2 PN/DP", firmware))
    assert [m["status"] for m in found] == ([status] if status else [])


def test_match_reports_what_matched(tmp_path: Path) -> None:
    store = _store(tmp_path, [_adv("X-1", "Siemens", ["^6ES7 315"], [{"lt": "V3.2.12"}])])
    (hit,) = store.match(_asset("Siemens", "CPU 315-2 PN/DP", "V3.2.6", order_number="6ES7 315-2EH14-0AB0"))
    assert hit["matched"] == {"vendor": "Siemens", "product": "6ES7 315-2EH14-0AB0", "version": "V3.2.6",
                              "range": {"lt": "V3.2.12"}}
    assert hit["cve"] == ["CVE-2099-0001"]


# -- real products -----------------------------------------------------------------------------
S7_300_PN = _asset("Siemens", "CPU 315-2 PN/DP", None, order_number="6ES7 315-2EH14-0AB0",
                   module_type_name="CPU 315-2 PN/DP")


@pytest.mark.parametrize(
    ("firmware", "expected"),
    [
        # SSA-818183: PROFINET CPUs < V3.2.12; SSA-731239: all; SSA-306710 < V3.X.16; SSA-508982 < V3.X.17
        ("V3.2.6", {"SSA-818183", "SSA-731239", "SSA-306710", "SSA-508982"}),
        ("V3.2.12", {"SSA-731239", "SSA-306710", "SSA-508982"}),
        ("V3.2.16", {"SSA-731239", "SSA-508982"}),
        ("V3.2.17", {"SSA-731239"}),
    ],
)
def test_bundled_s7_300_advisories_by_firmware(firmware: str, expected: set[str]) -> None:
    found = AdvisoryStore.bundled().match({**S7_300_PN, "firmware": firmware})
    assert {m["id"] for m in found if m["status"] == "affected"} == expected


def test_s7_300_without_profinet_uses_the_other_ssa_818183_range() -> None:
    asset = _asset("Siemens", "CPU 315-2 DP", "V3.3.11", module_type_name="CPU 315-2 DP")
    found = {m["id"]: m for m in AdvisoryStore.bundled().match(asset)}
    assert found["SSA-818183"]["matched"]["range"] == {"lt": "V3.3.12"}


def test_open62541_with_unknown_version_is_a_possible_match() -> None:
    asset = {"vendor": "open62541", "product": None, "firmware": None,
             "identity": {"product_uri": "http://open62541.org"},
             "fingerprint": {"vendor": "open62541", "family": "open62541 OPC UA SDK"}}
    found = AdvisoryStore.bundled().match(asset)
    assert [(m["id"], m["status"]) for m in found] == [("CVE-2022-25761", "possible")]


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def test_stock_snap7_server_identity_matches_an_advisory_for_its_firmware_only(tmp_path: Path) -> None:
    """Ask python-snap7's own server (on loopback) what it reports, then match advisories on it."""
    snap7 = pytest.importorskip("snap7")
    from snap7.server import Server

    host = "127.0.0.57"
    port = _free_port(host)
    server = Server(log=False)
    server.start_to(host, port)
    try:
        client = snap7.client.Client()
        client.connect(host, 0, 1, port)
        try:
            order = client.get_order_code()
            info = client.get_cpu_info()
        finally:
            client.disconnect()
    finally:
        server.stop()
    firmware = f"V{order.V1}.{order.V2}.{order.V3}"
    model = info.ModuleTypeName.decode()
    order_number = order.OrderCode.decode().strip()
    assert model == "CPU 315-2 PN/DP" and order_number == "6ES7 315-2EH14-0AB0"

    other = "V3.2.8" if firmware != "V3.2.8" else "V3.2.9"
    store = _store(tmp_path, [
        _adv("SNAP7-MODEL-FW", "SIEMENS AG", [r"^6ES7\s?315-2EH14"], [{"eq": firmware}]),
        _adv("SNAP7-OTHER-FW", "Siemens", [r"^6ES7\s?315-2EH14"], [{"eq": other}]),
    ])
    asset = _asset("Siemens", model, firmware, order_number=order_number, module_type_name=model)
    assert [m["id"] for m in store.match(asset)] == ["SNAP7-MODEL-FW"]
