//! The fallback for a token cache tokenhop cannot read (encrypted on Windows, or the
//! CLI's keystore option): `az account get-access-token --output json`, with a timeout.
//! The caller caches its answers in memory ([`tokenhop_core::CachingCredential`]).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokenhop_core::{
    AccessToken, BoxFuture, Error, Result, Scopes, Secret, TokenCredential, TokenRequestOptions,
    from_epoch_seconds,
};

/// What `az` is told besides the scopes.
#[derive(Clone, Debug)]
pub(crate) struct AzProcess {
    /// The program (`az`, found on `PATH`).
    pub program: OsString,
    pub config_dir: PathBuf,
    pub tenant: Option<String>,
    pub subscription: Option<String>,
    pub timeout: Duration,
    /// Why the cache was not used, for errors.
    pub why_not_cache: String,
}

/// `az account get-access-token --output json`'s answer (CLI ≥ 2.54 prints `expires_on`).
#[derive(Deserialize)]
struct AzToken {
    #[serde(rename = "accessToken")]
    access_token: String,
    expires_on: Option<serde_json::Value>,
    #[serde(rename = "tokenType", default)]
    token_type: Option<String>,
}

impl AzProcess {
    /// The arguments for `scopes` (the tenant of the request, else the configured one).
    pub(crate) fn args(&self, scopes: &Scopes, tenant: Option<&str>) -> Vec<String> {
        let mut args: Vec<String> = ["account", "get-access-token", "--output", "json", "--scope"]
            .map(String::from)
            .into();
        args.extend(scopes.iter().map(|s| s.as_str().to_owned()));
        match (tenant.or(self.tenant.as_deref()), &self.subscription) {
            (Some(tenant), _) => args.extend(["--tenant".to_owned(), tenant.to_owned()]),
            (None, Some(subscription)) => {
                args.extend(["--subscription".to_owned(), subscription.clone()]);
            }
            (None, None) => {}
        }
        args
    }

    async fn run(&self, scopes: &Scopes, tenant: Option<&str>) -> Result<AccessToken> {
        let args = self.args(scopes, tenant);
        let shown = format!("az {}", args.join(" "));
        let failed = |what: String| Error::Authentication {
            reason: format!(
                "the Azure CLI's token cache was not usable ({}), and `{shown}` {what}; run `az login`{}",
                self.why_not_cache,
                self.tenant
                    .as_deref()
                    .map(|t| format!(" (or `az login --tenant {t}`)"))
                    .unwrap_or_default(),
            ),
        };
        let child = tokio::process::Command::new(&self.program)
            .args(&args)
            .env("AZURE_CONFIG_DIR", &self.config_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                failed(format!(
                    "could not start: {e} (is the Azure CLI installed?)"
                ))
            })?;
        let output = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                failed(format!(
                    "did not finish within {} s (it was stopped)",
                    self.timeout.as_secs_f32()
                ))
            })?
            .map_err(|e| failed(format!("failed: {e}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(failed(format!(
                "exited with {}: {}",
                output.status,
                stderr.trim()
            )));
        }
        let answer: AzToken = serde_json::from_slice(&output.stdout)
            .map_err(|e| failed(format!("printed no token JSON ({e})")))?;
        let expires_on = match &answer.expires_on {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            failed(
                "printed no `expires_on` (Azure CLI 2.54 or later prints it; run `az upgrade`)"
                    .into(),
            )
        })?;
        let mut token = AccessToken::new(
            Secret::new(answer.access_token),
            from_epoch_seconds(expires_on),
        )
        .with_scopes(scopes.clone());
        if let Some(kind) = answer.token_type {
            token.token_type = kind;
        }
        Ok(token)
    }
}

impl TokenCredential for AzProcess {
    fn get_token<'a>(
        &'a self,
        scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(self.run(scopes, options.tenant_id.as_ref().map(|t| t.as_str())))
    }
}
