//! The secure channels of one connection (the "secure channel state" of
//! `parsers/opcua/parser.py`): policy and mode per channel id, bounded by `MAX_CHANNELS` and in
//! insertion order as the Python dict (the oldest is dropped first; a replaced channel keeps its
//! place), plus the OpenSecureChannel request of channel id 0 waiting for the server's id.

use icssa_core::{Map, Text, Value};

use crate::secure::{Channel, MAX_CHANNELS, POLICY_NONE};

/// Where the channel of a secure message lives.
#[derive(Clone, Copy)]
pub enum ChannelRef {
    /// the OpenSecureChannel request of channel id 0
    Opening,
    /// index into the known channels
    Known(usize),
}

#[derive(Debug, Default)]
pub struct Channels {
    /// secure channels by id
    known: Vec<(u32, Channel)>,
    /// an OpenSecureChannel request (channel id 0) waiting for the server to assign the id
    opening: Option<Channel>,
}

impl Channels {
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    pub fn index(&self, channel_id: u32) -> Option<usize> {
        self.known.iter().position(|(k, _)| *k == channel_id)
    }

    pub fn get_mut(&mut self, at: ChannelRef) -> Option<&mut Channel> {
        match at {
            ChannelRef::Opening => self.opening.as_mut(),
            ChannelRef::Known(i) => self.known.get_mut(i).map(|(_, c)| c),
        }
    }

    /// The channel an OPN chunk with this channel id and policy belongs to: channel id 0 opens a
    /// new one; a known id under the same policy is that channel; otherwise a new channel (which
    /// takes the mode of the waiting request under the same policy, if known).
    pub fn open(&mut self, channel_id: u32, policy: Option<Text>) -> ChannelRef {
        let mut mode = (policy.as_deref() == Some(POLICY_NONE)).then_some(Text::Borrowed("None"));
        if channel_id == 0 {
            self.opening = Some(Channel::new(policy, mode));
            return ChannelRef::Opening;
        }
        let i = self.index(channel_id);
        if let Some(i) = i {
            if self.known[i].1.policy == policy {
                return ChannelRef::Known(i);
            }
        }
        if let Some(opening) = &self.opening {
            if opening.policy == policy && opening.mode.is_some() {
                mode = opening.mode.clone();
            }
        }
        let channel = Channel::new(policy, mode);
        match i {
            Some(i) => {
                self.known[i].1 = channel;
                ChannelRef::Known(i)
            }
            None => {
                if self.known.len() >= MAX_CHANNELS {
                    self.known.remove(0);
                }
                self.known.push((channel_id, channel));
                ChannelRef::Known(self.known.len() - 1)
            }
        }
    }

    /// A readable OpenSecureChannel request (`service` 446) states the mode; under policy None
    /// it must be None. A response (449) must name the chunk's channel.
    pub fn learn(
        &mut self,
        at: ChannelRef,
        service: Option<u32>,
        fields: &Map,
        flags: &mut Vec<Value>,
    ) {
        if service == Some(449) && fields.get("token_channel_id") != fields.get("secure_channel_id")
        {
            flags.push(Value::from("channel_id_mismatch"));
        }
        if service != Some(446) {
            return;
        }
        let Some(Value::Str(mode)) = fields.get("security_mode") else {
            return;
        };
        let mode = mode.clone();
        let Some(channel) = self.get_mut(at) else {
            return;
        };
        if channel.is_policy_none() && mode != "None" {
            flags.push(Value::from("security_mode_policy_mismatch"));
        } else {
            channel.mode = Some(mode);
        }
    }
}
