"""MITRE ATT&CK for ICS, pinned to one version: technique and tactic names for rule tags.

Rules tag techniques as ``attack.t0855`` and tactics as ``attack.impair_process_control``
(Sigma style); the loader refuses ids that are not in the pinned version, so a typo in a tag is
a load error rather than an alert that names nothing. Alerts carry names and references taken
from these tables.

Source: https://attack.mitre.org/versions/v15/matrices/ics/ (ATT&CK v15, April 2024).
"""

from __future__ import annotations

from typing import NamedTuple

FRAMEWORK = "MITRE ATT&CK for ICS"
VERSION = "v15"
#: versions a rule file may pin in ``attack_version``
SUPPORTED_VERSIONS = frozenset({VERSION})


class Tactic(NamedTuple):
    id: str
    name: str


TACTICS: dict[str, Tactic] = {
    "initial_access": Tactic("TA0108", "Initial Access"),
    "execution": Tactic("TA0104", "Execution"),
    "persistence": Tactic("TA0110", "Persistence"),
    "privilege_escalation": Tactic("TA0111", "Privilege Escalation"),
    "evasion": Tactic("TA0103", "Evasion"),
    "discovery": Tactic("TA0102", "Discovery"),
    "lateral_movement": Tactic("TA0109", "Lateral Movement"),
    "collection": Tactic("TA0100", "Collection"),
    "command_and_control": Tactic("TA0101", "Command and Control"),
    "inhibit_response_function": Tactic("TA0107", "Inhibit Response Function"),
    "impair_process_control": Tactic("TA0106", "Impair Process Control"),
    "impact": Tactic("TA0105", "Impact"),
}


class Technique(NamedTuple):
    id: str
    name: str
    #: keys of TACTICS
    tactics: tuple[str, ...]


def _t(tid: str, name: str, *tactics: str) -> tuple[str, Technique]:
    return tid, Technique(tid, name, tactics)


# The techniques a network sensor can see evidence of (host-only techniques are left out).
TECHNIQUES: dict[str, Technique] = dict([
    _t("T0800", "Activate Firmware Update Mode", "inhibit_response_function"),
    _t("T0801", "Monitor Process State", "collection"),
    _t("T0802", "Automated Collection", "collection"),
    _t("T0803", "Block Command Message", "inhibit_response_function"),
    _t("T0804", "Block Reporting Message", "inhibit_response_function"),
    _t("T0806", "Brute Force I/O", "impair_process_control"),
    _t("T0809", "Data Destruction", "inhibit_response_function"),
    _t("T0812", "Default Credentials", "lateral_movement"),
    _t("T0813", "Denial of Control", "impact"),
    _t("T0814", "Denial of Service", "inhibit_response_function"),
    _t("T0815", "Denial of View", "impact"),
    _t("T0816", "Device Restart/Shutdown", "inhibit_response_function"),
    _t("T0821", "Modify Controller Tasking", "execution"),
    _t("T0822", "External Remote Services", "initial_access"),
    _t("T0826", "Loss of Availability", "impact"),
    _t("T0827", "Loss of Control", "impact"),
    _t("T0830", "Adversary-in-the-Middle", "collection"),
    _t("T0831", "Manipulation of Control", "impact"),
    _t("T0832", "Manipulation of View", "impact"),
    _t("T0835", "Manipulate I/O Image", "inhibit_response_function"),
    _t("T0836", "Modify Parameter", "impair_process_control"),
    _t("T0838", "Modify Alarm Settings", "inhibit_response_function"),
    _t("T0839", "Module Firmware", "persistence", "impair_process_control"),
    _t("T0840", "Network Connection Enumeration", "discovery"),
    _t("T0842", "Network Sniffing", "discovery"),
    _t("T0843", "Program Download", "lateral_movement"),
    _t("T0845", "Program Upload", "collection"),
    _t("T0846", "Remote System Discovery", "discovery"),
    _t("T0848", "Rogue Master", "initial_access"),
    _t("T0855", "Unauthorized Command Message", "impair_process_control"),
    _t("T0856", "Spoof Reporting Message", "evasion", "impair_process_control"),
    _t("T0857", "System Firmware", "persistence", "inhibit_response_function"),
    _t("T0858", "Change Operating Mode", "execution", "evasion"),
    _t("T0859", "Valid Accounts", "persistence", "lateral_movement"),
    _t("T0861", "Point & Tag Identification", "collection"),
    _t("T0866", "Exploitation of Remote Services", "initial_access", "lateral_movement"),
    _t("T0868", "Detect Operating Mode", "collection"),
    _t("T0869", "Standard Application Layer Protocol", "command_and_control"),
    _t("T0871", "Execution through API", "execution"),
    _t("T0872", "Indicator Removal on Host", "evasion"),
    _t("T0877", "I/O Image", "collection"),
    _t("T0878", "Alarm Suppression", "inhibit_response_function"),
    _t("T0881", "Service Stop", "inhibit_response_function"),
    _t("T0882", "Theft of Operational Information", "impact"),
    _t("T0883", "Internet Accessible Device", "initial_access"),
    _t("T0884", "Connection Proxy", "command_and_control"),
    _t("T0885", "Commonly Used Port", "command_and_control"),
    _t("T0886", "Remote Services", "initial_access", "lateral_movement"),
    _t("T0888", "Remote System Information Discovery", "discovery"),
    _t("T0889", "Modify Program", "persistence"),
    _t("T0891", "Hardcoded Credentials", "lateral_movement", "persistence"),
    _t("T0892", "Change Credential", "inhibit_response_function"),
])


def technique_url(tid: str) -> str:
    return f"https://attack.mitre.org/versions/{VERSION}/techniques/{tid}/"


def tactic_url(tactic_id: str) -> str:
    return f"https://attack.mitre.org/versions/{VERSION}/tactics/{tactic_id}/"
