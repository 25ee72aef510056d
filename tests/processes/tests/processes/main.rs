//! Real processes on one token cache file (issue 20): a daemon that does not resurrect
//! a signed-out account, sees another process's write without a restart, fails in time
//! with the lock's path when the lock's holder is stopped (and keeps its other tasks
//! running), and takes over the lock of a holder that died. Unix only: the tests stop
//! and continue processes with signals.
#![cfg(unix)]

mod common;
mod lock;
mod reload;
mod sign_out;
