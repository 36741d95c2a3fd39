"""What a client's request does to the server: read, write, control or other.

Only requests (messages sent by the flow's client) are classified; responses and pushes count as
events on the edge but not as operations, so one read is one read whatever the server answers.

| class | meaning | examples |
|---|---|---|
| read | process data read | Modbus FC 1-4, 20, 24; S7 read_var; OPC UA Read, HistoryRead, Publish |
| write | process data or address-space change | Modbus FC 5, 6, 15, 16, 21, 22, 23; S7 write_var; OPC UA Write, AddNodes |
| control | program transfer, CPU mode, protection, forcing | S7 plc_stop, plc_control, download/upload, set_password; Modbus FC 8 restart / listen-only |
| other | everything else (identity, session, browse) | S7 read_szl, setup_communication; OPC UA Browse, CreateSession |

OPC UA Publish counts as a read: each one fetches the notifications of a subscription, so a
subscribing HMI polls through it.
"""

from __future__ import annotations

from typing import Any

READ, WRITE, CONTROL, OTHER = "read", "write", "control", "other"

_MODBUS = {
    "read_coils": READ,
    "read_discrete_inputs": READ,
    "read_holding_registers": READ,
    "read_input_registers": READ,
    "read_file_record": READ,
    "read_fifo_queue": READ,
    "write_single_coil": WRITE,
    "write_single_register": WRITE,
    "write_multiple_coils": WRITE,
    "write_multiple_registers": WRITE,
    "write_file_record": WRITE,
    "mask_write_register": WRITE,
    "read_write_multiple_registers": WRITE,
}
# FC 8 sub-functions that change the server's state: 1 restart communications, 4 force listen only
_MODBUS_CONTROL_DIAGNOSTICS = frozenset({1, 4})

_S7 = {
    "read_var": READ,
    "cyclic_data": READ,
    "write_var": WRITE,
    "request_download": CONTROL,
    "download_block": CONTROL,
    "download_ended": CONTROL,
    "start_upload": CONTROL,
    "upload": CONTROL,
    "end_upload": CONTROL,
    "plc_control": CONTROL,
    "plc_stop": CONTROL,
    "force": CONTROL,
    "set_password": CONTROL,
    "clear_password": CONTROL,
    "set_clock": CONTROL,
}

_S7_PLUS = {
    "get_variable": READ,
    "get_multiple_variables": READ,
    "set_variable": WRITE,
    "set_multiple_variables": WRITE,
}

_OPCUA = {
    "read": READ,
    "history_read": READ,
    "publish": READ,
    "write": WRITE,
    "history_update": WRITE,
    "add_nodes": WRITE,
    "delete_nodes": WRITE,
    "add_references": WRITE,
    "delete_references": WRITE,
}

_TABLES = {"modbus": _MODBUS, "s7comm": _S7, "s7comm_plus": _S7_PLUS, "opcua": _OPCUA}

#: control operations that mark an engineering workstation (program transfer, CPU mode, protection)
ENGINEERING_OPS = frozenset(
    {
        "request_download", "download_block", "download_ended", "start_upload", "upload", "end_upload",
        "plc_control", "plc_stop", "set_password", "clear_password", "force",
        "diagnostics_restart_communications", "diagnostics_force_listen_only",
    }
)


#: requests that read a device's identity, configuration or program inventory (not process data)
IDENTITY_OPS = frozenset(
    {"read_device_identification", "report_server_id", "read_szl", "list_blocks", "list_blocks_of_type", "block_info"}
)


def classify(dataset: str, action: str, subfunction: Any = None) -> tuple[str, str]:
    """(class, operation name) of a request; the name is the action, refined for Modbus FC 8
    by its sub-function (``modbus.subfunction``)."""
    if dataset == "modbus" and action == "diagnostics":
        sub = subfunction if isinstance(subfunction, int) else None
        if sub in _MODBUS_CONTROL_DIAGNOSTICS:
            return CONTROL, "diagnostics_restart_communications" if sub == 1 else "diagnostics_force_listen_only"
        return OTHER, action
    table = _TABLES.get(dataset)
    if table is None:
        return OTHER, action
    return table.get(action, OTHER), action
