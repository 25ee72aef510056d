//! The device authorization grant (RFC 8628): start, show the user a code, poll.

use std::fmt;
use std::time::Duration;

use serde_json::Value;
use tokenhop_core::{BoxFuture, ClientId, Error, Result, Scopes, Secret};

use crate::endpoint::TokenEndpoint;
use crate::http::{Form, loggable};
use crate::response::{TokenResponse, json_object, number_field, oauth_error, string_field};

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const DEFAULT_INTERVAL: u64 = 5;
const SLOW_DOWN_STEP: u64 = 5;

/// What the user needs: where to go and which code to enter.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceCodeInfo {
    /// The code the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// The server's ready-made sentence for the user.
    pub message: String,
    /// Seconds until the code expires.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
}

/// A started device authorization: the user-facing info and the secret device code.
pub(crate) struct DeviceAuthorization {
    /// What to show the user.
    pub info: DeviceCodeInfo,
    device_code: Secret,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Asks the device authorization endpoint for a user code.
pub(crate) async fn start(
    endpoint: &TokenEndpoint,
    client_id: &ClientId,
    scopes: &Scopes,
) -> Result<DeviceAuthorization> {
    let url = endpoint
        .endpoints()
        .await?
        .device_authorization
        .clone()
        .ok_or_else(|| {
            Error::configuration(format!(
                "{} has no device authorization endpoint",
                endpoint.authority()
            ))
        })?;
    let form = Form::new()
        .field("client_id", client_id.as_str())
        .field("scope", scopes.to_space_separated());
    let response = endpoint.http().post_form(&url, &form, &[]).await?;
    let object = json_object(&response, &loggable(&url))?;
    if let Some(error) = oauth_error(&object, None, &response.request_id) {
        return Err(error);
    }
    let invalid = |field: &str| Error::InvalidResponse {
        endpoint: loggable(&url),
        reason: format!("the device code response has no {field}"),
    };
    let device_code = match object.get("device_code") {
        Some(Value::String(code)) if !code.is_empty() => Secret::new(code.as_str()),
        _ => return Err(invalid("device_code")),
    };
    let user_code = string_field(&object, "user_code").ok_or_else(|| invalid("user_code"))?;
    let verification_uri = string_field(&object, "verification_uri")
        .or_else(|| string_field(&object, "verification_url"))
        .ok_or_else(|| invalid("verification_uri"))?;
    let expires_in = number_field(&object, "expires_in").ok_or_else(|| invalid("expires_in"))?;
    let message = string_field(&object, "message").unwrap_or_else(|| {
        format!("To sign in, open {verification_uri} and enter the code {user_code}")
    });
    let interval = number_field(&object, "interval")
        .filter(|i| *i > 0)
        .unwrap_or(DEFAULT_INTERVAL);
    Ok(DeviceAuthorization {
        info: DeviceCodeInfo {
            user_code,
            verification_uri,
            message,
            expires_in,
            interval,
        },
        device_code,
    })
}

/// How device code polls wait: sleeping by default; a test can record the intervals
/// instead (see [`crate::PublicClientBuilder::device_code_wait`]).
pub type PollWait = std::sync::Arc<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>;

/// Waiting by sleeping on the tokio clock.
pub(crate) fn sleep_wait() -> PollWait {
    std::sync::Arc::new(|duration| Box::pin(tokio::time::sleep(duration)))
}

/// Polls the token endpoint until the user approves, declines, or the code expires,
/// waiting through `wait`: `interval` between polls, 5 s more on each `slow_down`.
/// Dropping the future stops polling.
pub(crate) async fn poll(
    endpoint: &TokenEndpoint,
    client_id: &ClientId,
    authorization: &DeviceAuthorization,
    wait: &PollWait,
) -> Result<TokenResponse> {
    let mut interval = authorization.info.interval;
    let mut waited = 0;
    let form = Form::new()
        .field("grant_type", GRANT_TYPE)
        .field("client_id", client_id.as_str())
        .secret("device_code", &authorization.device_code)
        .field("client_info", "1");
    loop {
        waited += interval;
        if waited > authorization.info.expires_in {
            return Err(Error::Authentication {
                reason: format!(
                    "the device code expired after {} s before the user finished signing in",
                    authorization.info.expires_in
                ),
            });
        }
        wait(Duration::from_secs(interval)).await;
        match endpoint.request_token(&form, &[], None).await {
            Err(Error::TokenExchange { error, .. }) if error == "authorization_pending" => {}
            Err(Error::TokenExchange { error, .. }) if error == "slow_down" => {
                interval += SLOW_DOWN_STEP;
                tracing::debug!(interval, "device code: the server asked to slow down");
            }
            outcome => return outcome,
        }
    }
}
