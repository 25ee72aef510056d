//! Real processes on one token cache file (issue 20): a daemon that does not resurrect
//! a signed-out account, sees another process's write without a restart, fails in time
//! with the lock's path when the lock's holder is stopped (and keeps its other tasks
//! running), and takes over the lock of a holder that died; and a fleet of processes
//! on one Redis (issue 23). Unix only: the tests stop
//! and continue processes with signals.
#![cfg(unix)]

mod common;
mod fleet;
mod lock;
mod reload;
mod sign_out;
