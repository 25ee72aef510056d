//! Finding the token a URI names among the module's slots.

use cryptoki::context::Pkcs11;
use cryptoki::slot::Slot;

use crate::{Pkcs11Error, Pkcs11Uri};

/// The token a signer uses: its slot and what it calls itself.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) slot: Slot,
    pub(crate) label: String,
    pub(crate) login_required: bool,
}

impl Token {
    /// The one token with its slot's attributes matching `uri`.
    pub(crate) fn find(context: &Pkcs11, uri: &Pkcs11Uri) -> Result<Self, Pkcs11Error> {
        let module_failed = |e| Pkcs11Error::from_call("(none chosen yet)", e);
        let mut present = Vec::new();
        let mut matching = Vec::new();
        for slot in context.get_slots_with_token().map_err(module_failed)? {
            let info = context.get_token_info(slot).map_err(module_failed)?;
            let slot_info = context.get_slot_info(slot).map_err(module_failed)?;
            let token_values = [
                ("token", info.label()),
                ("manufacturer", info.manufacturer_id()),
                ("model", info.model()),
                ("serial", info.serial_number()),
            ];
            let slot_values = [
                ("slot-description", slot_info.slot_description()),
                ("slot-manufacturer", slot_info.manufacturer_id()),
            ];
            let matches = |wanted: Vec<(&str, &str)>, values: &[(&str, &str)]| {
                wanted.iter().all(|(name, value)| {
                    values
                        .iter()
                        .any(|(n, v)| n == name && v.trim_end() == *value)
                })
            };
            present.push(info.label().trim_end().to_owned());
            if matches(uri.token_attributes(), &token_values)
                && matches(uri.slot_attributes(), &slot_values)
                && uri.slot_id().is_none_or(|id| id == slot.id())
            {
                matching.push(Self {
                    slot,
                    label: info.label().trim_end().to_owned(),
                    login_required: info.login_required(),
                });
            }
        }
        match matching.len() {
            1 => Ok(matching.remove(0)),
            0 => Err(Pkcs11Error::TokenNotFound {
                wanted: uri.describe_token(),
                present: if present.is_empty() {
                    "none".into()
                } else {
                    present.join(", ")
                },
            }),
            count => Err(Pkcs11Error::AmbiguousToken {
                wanted: uri.describe_token(),
                count,
            }),
        }
    }

    /// A failed call on this token, named.
    pub(crate) fn error(&self, error: cryptoki::error::Error) -> Pkcs11Error {
        Pkcs11Error::from_call(&self.label, error)
    }
}
