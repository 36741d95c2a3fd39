//! What a client's request does to the server: read, write, control or other (a port of
//! `assetmap/ops.py`). Only requests are classified; responses count as events on the edge.
//!
//! | class | examples |
//! |---|---|
//! | read | Modbus FC 1-4, 20, 24; S7 read_var; OPC UA Read, HistoryRead, Publish |
//! | write | Modbus FC 5, 6, 15, 16, 21, 22, 23; S7 write_var; OPC UA Write, AddNodes |
//! | control | S7 plc_stop, plc_control, download/upload, set_password; Modbus FC 8 restart / listen-only |
//! | other | everything else (identity, session, browse) |

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Read,
    Write,
    Control,
    Other,
}

use Class::*;

fn modbus(action: &str) -> Class {
    match action {
        "read_coils"
        | "read_discrete_inputs"
        | "read_holding_registers"
        | "read_input_registers"
        | "read_file_record"
        | "read_fifo_queue" => Read,
        "write_single_coil"
        | "write_single_register"
        | "write_multiple_coils"
        | "write_multiple_registers"
        | "write_file_record"
        | "mask_write_register"
        | "read_write_multiple_registers" => Write,
        _ => Other,
    }
}

/// S7 control operations by name (static, as the edges count them).
const S7_CONTROL: &[&str] = &[
    "request_download",
    "download_block",
    "download_ended",
    "start_upload",
    "upload",
    "end_upload",
    "plc_control",
    "plc_stop",
    "force",
    "set_password",
    "clear_password",
    "set_clock",
];

fn s7(action: &str) -> Class {
    match action {
        "read_var" | "cyclic_data" => Read,
        "write_var" => Write,
        a if S7_CONTROL.contains(&a) => Control,
        _ => Other,
    }
}

fn s7_plus(action: &str) -> Class {
    match action {
        "get_variable" | "get_multiple_variables" => Read,
        "set_variable" | "set_multiple_variables" => Write,
        _ => Other,
    }
}

fn opcua(action: &str) -> Class {
    match action {
        "read" | "history_read" | "publish" => Read,
        "write" | "history_update" | "add_nodes" | "delete_nodes" | "add_references"
        | "delete_references" => Write,
        _ => Other,
    }
}

/// Control operations that mark an engineering workstation.
pub const ENGINEERING_OPS: &[&str] = &[
    "request_download",
    "download_block",
    "download_ended",
    "start_upload",
    "upload",
    "end_upload",
    "plc_control",
    "plc_stop",
    "set_password",
    "clear_password",
    "force",
    "diagnostics_restart_communications",
    "diagnostics_force_listen_only",
];

/// Requests that read a device's identity, configuration or program inventory.
pub fn is_identity_op(action: &str) -> bool {
    matches!(
        action,
        "read_device_identification"
            | "report_server_id"
            | "read_szl"
            | "list_blocks"
            | "list_blocks_of_type"
            | "block_info"
    )
}

/// (class, control operation name) of a request; the name only for control operations, the
/// action refined for Modbus FC 8 by its sub-function (`modbus.subfunction`, an int or bool).
pub fn classify(dataset: &str, action: &str, subfunction: Option<i64>) -> (Class, &'static str) {
    if dataset == "modbus" && action == "diagnostics" {
        return match subfunction {
            Some(1) => (Control, "diagnostics_restart_communications"),
            Some(4) => (Control, "diagnostics_force_listen_only"),
            _ => (Other, ""),
        };
    }
    let class = match dataset {
        "modbus" => modbus(action),
        "s7comm" => s7(action),
        "s7comm_plus" => s7_plus(action),
        "opcua" => opcua(action),
        _ => Other,
    };
    let op = if class == Control {
        S7_CONTROL
            .iter()
            .find(|a| **a == action)
            .copied()
            .unwrap_or("")
    } else {
        ""
    };
    (class, op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(classify("modbus", "read_coils", None), (Read, ""));
        assert_eq!(
            classify("modbus", "diagnostics", Some(4)),
            (Control, "diagnostics_force_listen_only")
        );
        assert_eq!(classify("modbus", "diagnostics", Some(0)), (Other, ""));
        assert_eq!(classify("s7comm", "plc_stop", None), (Control, "plc_stop"));
        assert_eq!(classify("opcua", "publish", None), (Read, ""));
        assert_eq!(classify("cotp", "connection_request", None), (Other, ""));
        assert!(is_identity_op("read_szl") && !is_identity_op("read_var"));
    }
}
