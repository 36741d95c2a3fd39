"""What events can contain, for the semantic checks of rules (COMMON.md, DESIGN.md).

A rule naming a dataset, action or field that no sensor produces would load fine and never
fire; these tables turn such typos into load errors. Adding a protocol means adding its
dataset here (and its closed action list when it has one).
"""

from __future__ import annotations

DATASETS = frozenset({"modbus", "s7comm", "s7comm_plus", "cotp", "opcua", "icssa"})

#: datasets whose actions form a closed list (a rule naming another action is a typo)
ACTIONS: dict[str, frozenset[str]] = {
    "modbus": frozenset({
        "read_coils", "read_discrete_inputs", "read_holding_registers", "read_input_registers",
        "write_single_coil", "write_single_register", "read_exception_status", "diagnostics",
        "get_comm_event_counter", "get_comm_event_log", "write_multiple_coils",
        "write_multiple_registers", "report_server_id", "read_file_record", "write_file_record",
        "mask_write_register", "read_write_multiple_registers", "read_fifo_queue",
        "read_device_identification", "can_open_general_reference",
        "encapsulated_interface_transport", "unknown_function",
    }),
}

#: top-level objects of the envelope, present on every dataset
ENVELOPE = frozenset({"@timestamp", "event", "source", "destination", "network", "observer", "organization"})
#: fields the engine computes from its context (asset map zones); see engine.Engine
CONTEXT_FIELDS = frozenset({
    "context.source.zone", "context.source.level", "context.destination.zone",
    "context.destination.level", "context.zone_crossing", "context.level_gap",
})

_IP = "ip"
#: field -> the Python type its values have (``ip``: a textual IP address)
FIELD_TYPES: dict[str, type | str] = {
    "event.dataset": str, "event.action": str, "event.id": str, "event.kind": str,
    "source.ip": _IP, "destination.ip": _IP, "source.port": int, "destination.port": int,
    "source.mac": str, "destination.mac": str,
    "network.transport": str, "network.community_id": str, "network.direction_to_server": bool,
    "observer.name": str, "organization.id": str,
    "modbus.transaction_id": int, "modbus.unit_id": int, "modbus.function_code": int,
    "modbus.function": str, "modbus.is_response": bool, "modbus.exception_code": int,
    "modbus.exception": str, "modbus.address": int, "modbus.quantity": int, "modbus.values": int,
    "modbus.subfunction": int, "modbus.mei_type": int, "modbus.matched": bool, "modbus.flags": str,
    "s7comm.rosctr": int, "s7comm.function_code": int, "s7comm.function": str,
    "s7comm.is_response": bool, "s7comm.error_class": int, "s7comm.error_code": int,
    "s7comm.szl_id": int, "s7comm.szl_index": int, "s7comm.pi_service": str,
    "s7comm.start_type": str, "s7comm.block_type": str, "s7comm.block_number": int,
    "s7comm.userdata.group": int, "s7comm.userdata.subfunction": int, "s7comm.flags": str,
    "s7comm.items.area": str, "s7comm.items.area_code": int, "s7comm.items.db": int,
    "s7comm.identity.protection_level": int,
    "s7comm_plus.opcode": int, "s7comm_plus.function_code": int, "s7comm_plus.integrity": bool,
    "s7comm_plus.protocol_version": int, "s7comm_plus.flags": str,
    "opcua.message_type": str, "opcua.service_id": int, "opcua.service": str,
    "opcua.security_policy": str, "opcua.security_mode": str, "opcua.status_code": int,
    "opcua.identity_token_type": str, "opcua.user_name": str, "opcua.is_response": bool,
    "opcua.encrypted": bool, "opcua.flags": str, "opcua.endpoint_url": str,
    "cotp.flags": str,
    "context.source.zone": str, "context.source.level": float, "context.destination.zone": str,
    "context.destination.level": float, "context.zone_crossing": bool, "context.level_gap": float,
}


#: fields of FIELD_TYPES whose values are lists (conditions test their elements)
LIST_FIELDS = frozenset({
    "modbus.values", "modbus.flags", "s7comm.flags", "s7comm_plus.flags", "opcua.flags", "cotp.flags",
    "s7comm.items.area", "s7comm.items.area_code", "s7comm.items.db",
})
#: fields that always hold one value: a list there is malformed and never matches a value test
SCALAR_FIELDS = frozenset(f for f in FIELD_TYPES if f not in LIST_FIELDS)


def type_ok(field: str, value: object) -> bool:
    """Can ``value`` (a literal in a rule) ever equal a value of ``field``?"""
    want = FIELD_TYPES.get(field)
    if want is None:
        return True
    if want == _IP or want is str:
        return isinstance(value, str)
    if want is bool:
        return isinstance(value, bool)
    if want is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if want is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True
