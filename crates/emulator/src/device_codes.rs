//! The device codes the emulator issued, and the rules of polling for one:
//! `authorization_pending`, `slow_down`, `expired_token`, `authorization_declined`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::http::StatusCode;

use crate::entra_error::EntraError;
use crate::realm::Realm;

#[derive(Clone, Debug)]
enum Status {
    Pending,
    /// Approved by a user; the first `pending_polls` polls still see it pending.
    Approved {
        user: String,
        pending_polls: u32,
    },
    Denied,
}

/// A device code as the device authorization endpoint issues it.
#[derive(Clone, Debug)]
pub(crate) struct IssuedDeviceCode {
    pub(crate) user_code: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) realm: Realm,
    /// In the emulator's clock, epoch seconds.
    pub(crate) expires_at: u64,
    pub(crate) interval_secs: u64,
}

#[derive(Clone, Debug)]
struct DeviceGrant {
    code: IssuedDeviceCode,
    last_poll: Option<Instant>,
    status: Status,
    /// The order of issue, so that "the latest pending one" is well defined.
    issued: u64,
}

/// What a poll for an approved code redeems: the user signed in, for the code's scope.
#[derive(Clone, Debug)]
pub(crate) struct ApprovedDeviceCode {
    pub(crate) user: String,
    pub(crate) scope: String,
    pub(crate) realm: Realm,
}

/// Device codes by `device_code`.
#[derive(Default)]
pub(crate) struct DeviceCodes {
    codes: Mutex<HashMap<String, DeviceGrant>>,
    sequence: AtomicU64,
}

impl DeviceCodes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, DeviceGrant>> {
        self.codes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a new, pending device code.
    pub(crate) fn insert(&self, device_code: String, code: IssuedDeviceCode) {
        let issued = self.sequence.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            device_code,
            DeviceGrant {
                code,
                last_poll: None,
                status: Status::Pending,
                issued,
            },
        );
    }

    /// Approves the code with `user_code` (the latest pending one when none is named) as
    /// `user`; the next `after_polls` polls still see it pending. False when there is no
    /// such code.
    pub(crate) fn approve(&self, user_code: Option<&str>, user: &str, after_polls: u32) -> bool {
        self.decide(
            user_code,
            Status::Approved {
                user: user.to_owned(),
                pending_polls: after_polls,
            },
        )
    }

    /// Denies the code with `user_code` (the latest pending one when none is named).
    /// False when there is no such code.
    pub(crate) fn deny(&self, user_code: Option<&str>) -> bool {
        self.decide(user_code, Status::Denied)
    }

    fn decide(&self, user_code: Option<&str>, status: Status) -> bool {
        let mut codes = self.lock();
        let grant = match user_code {
            Some(code) => codes
                .values_mut()
                .find(|g| g.code.user_code.eq_ignore_ascii_case(code)),
            None => codes
                .values_mut()
                .filter(|g| matches!(g.status, Status::Pending))
                .max_by_key(|g| g.issued),
        };
        match grant {
            Some(grant) => {
                grant.status = status;
                true
            }
            None => false,
        }
    }

    /// A poll by `client_id` for `device_code` at `now` (the emulator's clock): the
    /// approved grant, which the code can then no longer redeem, or the poll's error.
    pub(crate) fn poll(
        &self,
        device_code: &str,
        client_id: &str,
        now: u64,
    ) -> Result<ApprovedDeviceCode, EntraError> {
        let mut codes = self.lock();
        let Some(grant) = codes.get_mut(device_code) else {
            return Err(poll_error(
                "invalid_grant",
                9002313,
                "Invalid request. The device code is unknown or was already redeemed.",
            ));
        };
        if grant.code.client_id != client_id {
            return Err(poll_error(
                "invalid_grant",
                70000,
                "The device code was issued to another client.",
            ));
        }
        if now >= grant.code.expires_at {
            codes.remove(device_code);
            return Err(poll_error(
                "expired_token",
                70019,
                "Verification code expired.",
            ));
        }
        let too_fast = grant.last_poll.is_some_and(|last| {
            last.elapsed().as_millis() < u128::from(grant.code.interval_secs) * 500
        });
        grant.last_poll = Some(Instant::now());
        let user = match &mut grant.status {
            Status::Denied => {
                codes.remove(device_code);
                return Err(poll_error(
                    "authorization_declined",
                    70000,
                    "The user declined the sign-in.",
                ));
            }
            Status::Approved {
                pending_polls: 0,
                user,
            } => user.clone(),
            Status::Approved { pending_polls, .. } => {
                *pending_polls -= 1;
                return Err(pending_or_slow_down(grant, too_fast));
            }
            Status::Pending => return Err(pending_or_slow_down(grant, too_fast)),
        };
        let Some(grant) = codes.remove(device_code) else {
            return Err(poll_error(
                "invalid_grant",
                9002313,
                "The device code vanished.",
            ));
        };
        Ok(ApprovedDeviceCode {
            user,
            scope: grant.code.scope,
            realm: grant.code.realm,
        })
    }
}

fn poll_error(error: &'static str, code: u64, message: &str) -> EntraError {
    EntraError::new(StatusCode::BAD_REQUEST, error, code, message)
}

/// While pending: `slow_down` (and a longer interval) for a client that polls faster
/// than half the interval, `authorization_pending` otherwise.
fn pending_or_slow_down(grant: &mut DeviceGrant, too_fast: bool) -> EntraError {
    if too_fast {
        grant.code.interval_secs += 5;
        poll_error(
            "slow_down",
            70000,
            "The client is polling too fast; wait 5 seconds longer between polls.",
        )
    } else {
        poll_error(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )
    }
}
