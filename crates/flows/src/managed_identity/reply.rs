//! Reading a host's answer: its error first (each host shapes errors its own way), then
//! the token, whose expiry comes as `expires_in` or as `expires_on` in whatever form the
//! host sends it.

use std::fmt;

use serde_json::{Map, Value};
use tokenhop_core::{Error, Result, Secret};

use super::ManagedIdentityHost;
use crate::http::HttpResponse;
use crate::response::{json_object, number_field, string_field};

/// A managed identity token, normalised from any host's answer.
#[derive(Clone)]
pub(super) struct ManagedIdentityToken {
    pub(super) access_token: Secret,
    /// Seconds until it expires.
    pub(super) expires_in: u64,
    /// Seconds until it should be refreshed, when the host says.
    pub(super) refresh_in: Option<u64>,
    pub(super) token_type: String,
}

impl fmt::Debug for ManagedIdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityToken")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}

/// The token in `response`, or the host's error. `now` (epoch seconds) turns an
/// `expires_on` into seconds left.
pub(super) fn read_token(
    host: ManagedIdentityHost,
    response: &HttpResponse,
    endpoint: &str,
    now: u64,
) -> Result<ManagedIdentityToken> {
    let object = json_object(response, endpoint)?;
    if let Some(error) = host_error(host, response.status, &object) {
        return Err(error);
    }
    let invalid = |reason: String| Error::InvalidResponse {
        endpoint: endpoint.to_owned(),
        reason: format!("{host}: {reason}"),
    };
    if !(200..300).contains(&response.status) {
        return Err(invalid(format!(
            "HTTP {} without an error the host explains",
            response.status
        )));
    }
    let access_token = match object.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => Secret::new(token.as_str()),
        _ => return Err(invalid("no access_token in the answer".into())),
    };
    let expires_in = number_field(&object, "expires_in")
        .or_else(|| {
            object
                .get("expires_on")
                .and_then(expires_on_epoch)
                .map(|on| on.saturating_sub(now))
        })
        .ok_or_else(|| invalid("neither a valid expires_in nor expires_on in the answer".into()))?;
    Ok(ManagedIdentityToken {
        access_token,
        expires_in,
        refresh_in: number_field(&object, "refresh_in"),
        token_type: string_field(&object, "token_type").unwrap_or_else(|| "Bearer".into()),
    })
}

/// The host's error in its own shape: `{"error", "error_description"}` (IMDS, Arc),
/// `{"error": {"code", "message"}}` (Service Fabric, Cloud Shell) or, on a failed
/// status, `{"statusCode", "message"}` (App Service, Machine Learning).
fn host_error(
    host: ManagedIdentityHost,
    status: u16,
    object: &Map<String, Value>,
) -> Option<Error> {
    let (code, message) = match object.get("error") {
        Some(Value::String(code)) => (
            code.clone(),
            string_field(object, "error_description").unwrap_or_default(),
        ),
        Some(Value::Object(inner)) => (
            string_field(inner, "code").unwrap_or_else(|| "unknown_error".into()),
            string_field(inner, "message").unwrap_or_default(),
        ),
        Some(other) => (other.to_string(), String::new()),
        None if !(200..300).contains(&status) && object.contains_key("message") => (
            format!("http_{status}"),
            string_field(object, "message").unwrap_or_default(),
        ),
        None => return None,
    };
    Some(Error::TokenExchange {
        hop: None,
        error: code,
        description: format!(
            "managed identity on {host} refused the request (HTTP {status}): {message}{}",
            hint(host, status)
        ),
        error_codes: Vec::new(),
        correlation_id: None,
    })
}

/// What to check, for the statuses that point at something the caller can fix.
fn hint(host: ManagedIdentityHost, status: u16) -> &'static str {
    use ManagedIdentityHost::*;
    match (host, status) {
        (AppService | ServiceFabric, 401 | 403) => "; check IDENTITY_HEADER",
        (MachineLearning, 401 | 403) => "; check MSI_SECRET",
        (AzureArc, 401 | 403) => "; the agent refused its own key file's secret",
        (_, 400 | 404) => "; check the resource, and that the identity is assigned to this host",
        _ => "",
    }
}

/// `expires_on` as epoch seconds: a number, a numeric string, or the date App Service's
/// 2017 API sends (`06/20/2019 02:57:58 +00:00` on Linux, `1/16/2020 5:24:12 AM +00:00`
/// on Windows, always UTC).
fn expires_on_epoch(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            s.parse().ok().or_else(|| app_service_date(s))
        }
        _ => None,
    }
}

fn app_service_date(text: &str) -> Option<u64> {
    let text = text.strip_suffix("+00:00")?.trim();
    let mut parts = text.split_whitespace();
    let (date, time, meridiem) = (parts.next()?, parts.next()?, parts.next());
    if parts.next().is_some() {
        return None;
    }
    let mut date = date.split('/').map(str::parse::<u64>);
    let (month, day, year) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let mut time = time.split(':').map(str::parse::<u64>);
    let (mut hour, minute, second) = (time.next()?.ok()?, time.next()?.ok()?, time.next()?.ok()?);
    if date.next().is_some() || time.next().is_some() {
        return None;
    }
    match meridiem.map(str::to_ascii_uppercase).as_deref() {
        None => {}
        Some("AM") if (1..=12).contains(&hour) => hour %= 12,
        Some("PM") if (1..=12).contains(&hour) => hour = hour % 12 + 12,
        Some(_) => return None,
    }
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (1970..=9999).contains(&year)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then(|| days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn response(status: u16, body: Value) -> HttpResponse {
        HttpResponse {
            status,
            headers: Default::default(),
            body: body.to_string().into_bytes(),
            request_id: "test-request".to_owned(),
        }
    }

    #[test]
    fn expires_on_in_every_form_hosts_send() {
        assert_eq!(expires_on_epoch(&json!(1_700_000_000)), Some(1_700_000_000));
        assert_eq!(expires_on_epoch(&json!("1700000000")), Some(1_700_000_000));
        assert_eq!(
            expires_on_epoch(&json!("06/20/2019 02:57:58 +00:00")),
            Some(1_560_999_478)
        );
        assert_eq!(
            expires_on_epoch(&json!("1/16/2020 5:24:12 AM +00:00")),
            Some(1_579_152_252)
        );
        assert_eq!(
            expires_on_epoch(&json!("1/16/2020 12:24:12 PM +00:00")),
            Some(1_579_177_452)
        );
        assert_eq!(
            expires_on_epoch(&json!("1/16/2020 12:24:12 AM +00:00")),
            Some(1_579_134_252)
        );
        for bad in [
            "13/01/2020 00:00:00 +00:00",
            "1/16/2020 13:00:00 PM +00:00",
            "soon",
            "1/16/2020 5:24:12 +01:00",
        ] {
            assert_eq!(expires_on_epoch(&json!(bad)), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn app_service_dates_agree_with_epoch_seconds(secs in 0u64..253_402_300_799) {
            let days = secs / 86_400;
            let (year, month, day) = civil_from_days(days);
            let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
            let text = format!("{month:02}/{day:02}/{year} {h:02}:{m:02}:{s:02} +00:00");
            prop_assert_eq!(app_service_date(&text), Some(secs));
        }
    }

    /// The inverse of `days_from_civil`, written independently (by year and month
    /// lengths) so the property test checks one against the other.
    fn civil_from_days(mut days: u64) -> (u64, u64, u64) {
        let leap =
            |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        let mut year = 1970;
        while days >= if leap(year) { 366 } else { 365 } {
            days -= if leap(year) { 366 } else { 365 };
            year += 1;
        }
        let lengths = [
            31,
            if leap(year) { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        let mut month = 1;
        for length in lengths {
            if days < length {
                break;
            }
            days -= length;
            month += 1;
        }
        (year, month, days + 1)
    }

    #[test]
    fn each_hosts_error_shape_names_the_host_and_hides_no_token() {
        let cases = [
            (
                ManagedIdentityHost::Imds,
                400,
                json!({"error": "invalid_request", "error_description": "Identity not found"}),
                "invalid_request",
            ),
            (
                ManagedIdentityHost::ServiceFabric,
                401,
                json!({"error": {"code": "SecretHeaderNotFound", "message": "Secret is not found"}}),
                "SecretHeaderNotFound",
            ),
            (
                ManagedIdentityHost::AppService,
                401,
                json!({"statusCode": 401, "message": "bad header", "access_token": "at-secret-1"}),
                "http_401",
            ),
        ];
        for (host, status, body, code) in cases {
            let err = read_token(host, &response(status, body), "e", 0).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(host.name()) && text.contains(code), "{text}");
            assert!(!text.contains("at-secret-1"), "{text}");
        }
    }

    #[test]
    fn tokens_with_expires_in_or_expires_on() {
        let imds = read_token(
            ManagedIdentityHost::Imds,
            &response(
                200,
                json!({"access_token": "at", "expires_in": "3599", "expires_on": "1"}),
            ),
            "e",
            0,
        )
        .unwrap();
        assert_eq!(imds.expires_in, 3599);
        let fabric = read_token(
            ManagedIdentityHost::ServiceFabric,
            &response(
                200,
                json!({"access_token": "at", "expires_on": 1_000_600, "token_type": "Bearer"}),
            ),
            "e",
            1_000_000,
        )
        .unwrap();
        assert_eq!(fabric.expires_in, 600);
        let err = read_token(
            ManagedIdentityHost::MachineLearning,
            &response(200, json!({"access_token": "at"})),
            "e",
            0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("Machine Learning"), "{err}");
    }
}
