//! [`RedisGate`]: the fleet's single flight, as a [`FetchGate`].
//!
//! Before a process asks the identity provider for a token it takes the token's lease,
//! `{prefix}lease:{hash of the token's name}`, with `SET NX PX`. The holder fetches,
//! stores the token (its partition write is published), renews the lease while the
//! request lasts, and lets it go with a compare-and-delete script that leaves
//! `done:{holder}` behind for one lease time and publishes the release. The others wait
//! for that event (or poll, should an event be missed), then look in the cache again:
//! the `done:` they find tells them to, and makes their memory load what was written
//! (a caller that looked after that very `done:` and still found nothing takes the
//! lease over; a newer `done:` sends it to look again). A
//! holder that dies stops renewing: its lease expires after one lease time and the
//! next waiter takes it. A holder whose request failed deletes the lease, so the next
//! waiter fetches at once. Refresh-ahead never waits: while another process holds the
//! lease, the still-valid token is served.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokenhop_core::{BoxFuture, FetchGate, FetchPermit, HeldPermit, Passage, Wait};

use crate::link::Link;

/// Takes the lease (or the `done:` one the caller already looked after), or says who
/// has it. KEYS: lease. ARGV: owner, TTL in ms, the `done:` value to take over ("" for
/// none). Answers `taken`, `held`, `gone` (it expired between the two commands), or
/// the `done:` value it holds.
static TAKE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'taken' end
        local holder = redis.call('GET', KEYS[1])
        if not holder then return 'gone' end
        if string.sub(holder, 1, 5) == 'done:' then
            if holder == ARGV[3] then
                redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
                return 'taken'
            end
            return holder
        end
        return 'held'
        ",
    )
});

/// Renews a lease the caller holds. KEYS: lease. ARGV: owner, TTL in ms.
static RENEW: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        ",
    )
});

/// Lets a lease the caller holds go: `done:{owner}` for a while after a stored fetch,
/// deleted after a failed one; publishes the release. KEYS: lease. ARGV: owner, TTL
/// of `done:` in ms ("" deletes), channel, event.
static RELEASE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        if ARGV[2] == '' then
            redis.call('DEL', KEYS[1])
        else
            redis.call('SET', KEYS[1], 'done:' .. ARGV[1], 'PX', ARGV[2])
        end
        redis.call('PUBLISH', ARGV[3], ARGV[4])
        return 1
        ",
    )
});

/// How many lease times a caller waits for a holder that keeps renewing before it
/// fetches on its own.
const WAIT_LEASES: u32 = 8;

/// The fleet's single flight over Redis.
#[derive(Debug, Clone)]
pub(crate) struct RedisGate {
    link: Link,
}

impl RedisGate {
    pub(crate) fn new(link: Link) -> Self {
        Self { link }
    }
}

impl FetchGate for RedisGate {
    fn enter<'a>(&'a self, token: &'a str, wait: Wait) -> BoxFuture<'a, Passage> {
        let link = self.link.clone();
        let lease = lease_key(&self.link.shared.settings.prefix, token);
        Box::pin(async move {
            // The waits run on the cache's runtime, whatever runtime the caller has.
            let on_runtime = link.clone();
            on_runtime
                .on_runtime(pass(link, lease, wait))
                .await
                .unwrap_or_else(|| Passage::Fetch(FetchPermit::alone()))
        })
    }
}

/// `{prefix}lease:` and the first 32 hex digits of the SHA-256 of the token's name.
pub(crate) fn lease_key(prefix: &str, token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{prefix}lease:{hex}")
}

async fn pass(link: Link, lease: String, wait: Wait) -> Passage {
    let settings = &link.shared.settings;
    let ttl_ms = settings.lease.as_millis() as u64;
    let poll = (settings.lease / 10).clamp(Duration::from_millis(20), Duration::from_millis(250));
    let give_up = Instant::now() + settings.lease * WAIT_LEASES;
    let round = match wait {
        Wait::ForHolder { round } => Some(round),
        _ => None,
    };
    // A caller that looked again after a `done:` and found nothing takes that one over.
    let looked_after = match round {
        Some(r) if r > 0 => link.done_seen(&lease).unwrap_or_default(),
        _ => String::new(),
    };
    let owner = link.owner();
    let released = link.waiter(&lease);
    loop {
        let woken = released.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let (key, value, done) = (lease.clone(), owner.clone(), looked_after.clone());
        let answer = link
            .run(move |mut c| async move {
                TAKE.key(&key)
                    .arg(&value)
                    .arg(ttl_ms)
                    .arg(&done)
                    .invoke_async::<String>(&mut c)
                    .await
            })
            .await;
        let Ok(answer) = answer else {
            return Passage::Fetch(FetchPermit::alone());
        };
        match answer.as_str() {
            "taken" => {
                return Passage::Fetch(FetchPermit::new(HeldLease::start(link, lease, owner)));
            }
            "gone" => continue,
            done if done.starts_with("done:") => {
                // The holder stored it: what this process has in memory may predate
                // the write's event.
                link.remember_done(&lease, done);
                link.forget_all();
                return Passage::LookAgain;
            }
            _ if round.is_none() => return Passage::Busy,
            _ if Instant::now() >= give_up => {
                tracing::debug!(%lease, "the holder of a token's lease kept it too long; fetching without it");
                return Passage::Fetch(FetchPermit::alone());
            }
            _ => {
                let _ = tokio::time::timeout(poll, woken).await;
            }
        }
    }
}

/// A lease this process holds, renewed until let go.
struct HeldLease {
    link: Link,
    lease: String,
    owner: String,
    renewal: Option<tokio::task::AbortHandle>,
}

impl HeldLease {
    fn start(link: Link, lease: String, owner: String) -> Self {
        let every = link.shared.settings.lease / 3;
        let ttl_ms = link.shared.settings.lease.as_millis() as u64;
        let (renewer, key, value) = (link.clone(), lease.clone(), owner.clone());
        let renewal = link.spawn_abortable(async move {
            loop {
                tokio::time::sleep(every).await;
                let (key, value) = (key.clone(), value.clone());
                let renewed = renewer
                    .run(move |mut c| async move {
                        RENEW
                            .key(&key)
                            .arg(&value)
                            .arg(ttl_ms)
                            .invoke_async::<i64>(&mut c)
                            .await
                    })
                    .await;
                if renewed == Ok(0) {
                    break;
                }
            }
        });
        Self {
            link,
            lease,
            owner,
            renewal,
        }
    }
}

impl HeldPermit for HeldLease {
    fn release(self: Box<Self>, stored: bool) -> BoxFuture<'static, ()> {
        if let Some(renewal) = &self.renewal {
            renewal.abort();
        }
        let HeldLease {
            link, lease, owner, ..
        } = *self;
        let done_ms = match stored {
            true => link.shared.settings.lease.as_millis().to_string(),
            false => String::new(),
        };
        let event = format!("{} r {lease}", link.shared.instance);
        let channel = link.shared.channel();
        let releaser = link.clone();
        let releasing = link.spawn(async move {
            let key = lease.clone();
            let _ = releaser
                .run(move |mut c| async move {
                    RELEASE
                        .key(&key)
                        .arg(&owner)
                        .arg(&done_ms)
                        .arg(&channel)
                        .arg(&event)
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await;
            // Callers of this process that wait for the lease hear no event of ours.
            releaser.waiter(&lease).notify_waiters();
        });
        // The script's call is bounded by the timeout; a runtime gone ends it too.
        Box::pin(async move {
            if let Some(releasing) = releasing {
                let _ = releasing.await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_keys_hash_the_token_name() {
        let key = lease_key("p:", "login|t|app|app|s|");
        assert!(key.starts_with("p:lease:"));
        assert_eq!(key.len(), "p:lease:".len() + 32);
        assert_ne!(key, lease_key("p:", "login|t|app|app|s2|"));
    }
}
