//! Sessions for signing from many threads at once. A PKCS#11 session runs one
//! operation at a time and must not be shared between threads, so each signature takes
//! a session of its own: an idle one, or a new one while the token allows more. The
//! login belongs to the application, not the session, so new sessions are logged in.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::session::Session;

use crate::Pkcs11Error;
use crate::token::Token;

/// How long a signature waits for a session when the token allows no more.
const SESSION_WAIT: Duration = Duration::from_secs(30);

pub(crate) struct SessionPool {
    context: Pkcs11,
    token: Token,
    idle: Mutex<Vec<Session>>,
    returned: Condvar,
}

impl SessionPool {
    pub(crate) fn new(context: Pkcs11, token: Token) -> Self {
        Self {
            context,
            token,
            idle: Mutex::new(Vec::new()),
            returned: Condvar::new(),
        }
    }

    /// Runs `operation` on a session of its own: an idle one or a new one. The session
    /// goes back to the pool afterwards, unless the error broke it.
    pub(crate) fn with_session<T>(
        &self,
        operation: impl FnOnce(&Session) -> Result<T, Pkcs11Error>,
    ) -> Result<T, Pkcs11Error> {
        let session = self.take()?;
        let outcome = operation(&session);
        match &outcome {
            Err(error) if error.ends_session() => {
                tracing::warn!(token = %self.token.label, %error, "closing a PKCS#11 session after an error");
                drop(session);
            }
            _ => {
                self.idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(session);
                self.returned.notify_one();
            }
        }
        outcome
    }

    fn take(&self) -> Result<Session, Pkcs11Error> {
        let deadline = Instant::now() + SESSION_WAIT;
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(session) = idle.pop() {
                return Ok(session);
            }
            match self.context.open_ro_session(self.token.slot) {
                Ok(session) => return Ok(session),
                Err(CryptokiError::Pkcs11(RvError::SessionCount, _)) => {}
                Err(e) => return Err(self.token.error(e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Pkcs11Error::Busy {
                    token: self.token.label.clone(),
                    waited_secs: SESSION_WAIT.as_secs(),
                });
            }
            idle = self
                .returned
                .wait_timeout(idle, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}
