//! A scripted credential that counts its calls, shared by the core tests.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokenhop_core::{
    AccessToken, BoxFuture, Error, Result, Scopes, TokenCredential, TokenRequestOptions,
};

/// Answers from a script (or a default), after an optional delay, counting calls.
#[derive(Default)]
pub struct ScriptedCredential {
    pub calls: AtomicUsize,
    pub forced_calls: AtomicUsize,
    /// The claims of every call that carried some, in order.
    pub claims: Mutex<Vec<String>>,
    pub script: Mutex<VecDeque<Result<AccessToken>>>,
    pub delay: Option<Duration>,
}

impl ScriptedCredential {
    pub fn answering(answers: Vec<Result<AccessToken>>) -> Self {
        Self {
            script: Mutex::new(answers.into()),
            ..Self::default()
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl TokenCredential for ScriptedCredential {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a Scopes,
        options: &'a TokenRequestOptions,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if options.force_refresh {
                self.forced_calls.fetch_add(1, Ordering::SeqCst);
            }
            if let Some(claims) = &options.claims {
                self.claims.lock().unwrap().push(claims.clone());
            }
            if let Some(delay) = self.delay {
                tokio::time::sleep(delay).await;
            }
            self.script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| Err(Error::transport("script exhausted")))
        })
    }
}

pub fn scopes() -> Scopes {
    Scopes::new(["https://graph.microsoft.com/.default"]).unwrap()
}
