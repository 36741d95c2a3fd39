//! The protocols the sensor can detect and parse (Python: `parsers.registry()`), from the parser
//! crates enabled by feature (`opcua`, `s7`, `modbus`), most specific signature first.

use icssa_core::Parser;

/// One protocol (Python: `parsers.ProtocolSpec`).
#[derive(Clone, Copy)]
pub struct ProtocolSpec {
    pub name: &'static str,
    /// well-known server ports
    pub ports: &'static [u16],
    /// payload signature: does this first chunk of a direction look like the protocol?
    pub probe: fn(&[u8], bool) -> bool,
    /// a parser for one flow
    pub parser: fn() -> Box<dyn Parser>,
}

impl std::fmt::Debug for ProtocolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtocolSpec")
            .field("name", &self.name)
            .field("ports", &self.ports)
            .finish()
    }
}

/// All protocols compiled in, in the order of `parsers.registry()`: opcua, s7comm, modbus.
pub fn registry() -> Vec<ProtocolSpec> {
    vec![
        #[cfg(feature = "opcua")]
        ProtocolSpec {
            name: icssa_opcua::NAME,
            ports: icssa_opcua::PORTS,
            probe: icssa_opcua::probe,
            parser: icssa_opcua::parser,
        },
        #[cfg(feature = "s7")]
        ProtocolSpec {
            name: icssa_s7::NAME,
            ports: icssa_s7::PORTS,
            probe: icssa_s7::probe,
            parser: icssa_s7::parser,
        },
        #[cfg(feature = "modbus")]
        ProtocolSpec {
            name: icssa_modbus::NAME,
            ports: icssa_modbus::PORTS,
            probe: icssa_modbus::probe,
            parser: icssa_modbus::parser,
        },
    ]
}

/// Server port -> index of the spec that owns it (the first spec listing a port wins, as
/// Python's `by_port`, built from the reversed list, keeps it).
pub fn by_port(specs: &[ProtocolSpec]) -> Vec<u8> {
    let mut table = vec![u8::MAX; 65536];
    for (i, spec) in specs.iter().enumerate().rev() {
        for &port in spec.ports {
            table[port as usize] = i as u8;
        }
    }
    table
}
