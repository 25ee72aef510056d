//! The link to Redis: one connection (a connection manager that reconnects by itself,
//! or a cluster connection), a subscription to the cache's event channel, and the
//! health of both.
//!
//! Every call runs on a small runtime of the cache's own (one thread, started on first
//! use), bounded by the configured timeout, so that the cache works the same from any
//! caller: an async task of any runtime, or a blocking thread (where the file-backed
//! parts of the cache run). When a call fails the link is *down*: a warning is logged
//! once for the outage, callers get [`Unavailable`] at once (no network) until a retry
//! is due, and the first call that succeeds again ends the outage with an info line and
//! makes every partition in memory load again (what was written meanwhile is seen).
//!
//! Events (`PUBLISH {prefix}events`): `{instance} w {partition}` after a write, and
//! `{instance} r {lease}` after a lease is let go. Another process's write makes this
//! process load that partition again before its next lookup (its [`Stamp`] moves);
//! a let-go lease wakes the callers waiting for it. A new subscription (at start, or
//! after the connection dropped) makes every partition load again, since events may
//! have been missed.
//!
//! [`Stamp`]: tokenhop_cache::Stamp

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};
use tokenhop_core::{Clock, Error, Result};
use tokio::sync::{Notify, OnceCell};

use crate::envelope::Keys;
use crate::settings::RedisSettings;

/// How long a link that failed stays down before a call tries the network again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Redis could not be reached (or did not answer in time): the caller degrades.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// What a call to Redis gives: its value, or [`Unavailable`].
pub(crate) type Outcome<T> = std::result::Result<T, Unavailable>;

/// A handle on the link; clones share it. When the last handle goes, the runtime stops.
#[derive(Clone)]
pub(crate) struct Link {
    pub(crate) shared: Arc<Shared>,
    background: Arc<Background>,
}

/// What the link's tasks and its callers share.
pub(crate) struct Shared {
    pub(crate) settings: RedisSettings,
    pub(crate) keys: Keys,
    pub(crate) clock: Arc<dyn Clock>,
    client: Client,
    /// The server the subscription goes to (for a cluster, the seed node: a `PUBLISH`
    /// reaches every node's subscribers).
    subscriber: redis::Client,
    connection: OnceCell<Connection>,
    down: Mutex<Option<Instant>>,
    subscribed: AtomicBool,
    /// This process among those that share the cache: `{pid}-{random}`.
    pub(crate) instance: String,
    owners: AtomicU64,
    /// Moves when every partition in memory must load again.
    epoch: AtomicU64,
    partitions: Mutex<HashMap<String, Weak<PartitionState>>>,
    waiters: Mutex<HashMap<String, Weak<Notify>>>,
    /// The last `done:` each lease showed this process (see the lease module).
    done_seen: Mutex<HashMap<String, String>>,
}

/// What this process knows of one partition: how many writes by others it heard of,
/// and the last blob it read or wrote (what it answers from while Redis is down).
#[derive(Debug, Default)]
pub(crate) struct PartitionState {
    pub(crate) writes_heard: AtomicU64,
    pub(crate) last: Mutex<Option<tokenhop_cache::Blob>>,
}

// One per cache: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Client {
    Single(redis::Client),
    Cluster(redis::cluster::ClusterClient),
}

/// One connection, whichever the deployment.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// The cache's own runtime, started on first use.
struct Background {
    shared: Arc<Shared>,
    runtime: OnceLock<Option<tokio::runtime::Runtime>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        // Never blocks, so the last handle may go from inside an async task.
        if let Some(Some(runtime)) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("url", &self.shared.settings.shown_url())
            .field("prefix", &self.shared.settings.prefix)
            .field("down", &lock(&self.shared.down).is_some())
            .field(
                "subscribed",
                &self.shared.subscribed.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl Link {
    /// The link the settings describe. No I/O: the URL is only parsed.
    pub(crate) fn new(settings: RedisSettings, clock: Arc<dyn Clock>) -> Result<Self> {
        settings.validate()?;
        let invalid = |e: redis::RedisError| {
            Error::configuration(format!(
                "the Redis cache URL {} is not valid: {e}",
                settings.shown_url()
            ))
        };
        let certificates = || redis::TlsCertificates {
            client_tls: None,
            root_cert: settings.ca_cert.clone(),
        };
        let single = |url: &str| match &settings.ca_cert {
            Some(_) => redis::Client::build_with_tls(url, certificates()),
            None => redis::Client::open(url),
        };
        let subscriber = single(&settings.url).map_err(invalid)?;
        let client = if settings.cluster {
            let mut builder = redis::cluster::ClusterClient::builder([settings.url.as_str()])
                .connection_timeout(settings.timeout)
                .response_timeout(settings.timeout)
                .retries(1);
            if settings.ca_cert.is_some() {
                builder = builder.certs(certificates());
            }
            Client::Cluster(builder.build().map_err(invalid)?)
        } else {
            Client::Single(subscriber.clone())
        };
        let keys = Keys::new(
            settings.encryption_key.clone(),
            settings.decryption_keys.clone(),
        );
        let shared = Arc::new(Shared {
            keys,
            clock,
            client,
            subscriber,
            connection: OnceCell::new(),
            down: Mutex::new(None),
            subscribed: AtomicBool::new(false),
            instance: format!("{}-{}", std::process::id(), random_hex()),
            owners: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            partitions: Mutex::new(HashMap::new()),
            waiters: Mutex::new(HashMap::new()),
            done_seen: Mutex::new(HashMap::new()),
            settings,
        });
        Ok(Self {
            background: Arc::new(Background {
                shared: Arc::clone(&shared),
                runtime: OnceLock::new(),
            }),
            shared,
        })
    }

    /// The runtime, started (with the subscription) on first use; `None` when no
    /// runtime could be started, which counts as Redis being unavailable.
    fn runtime(&self) -> Option<&tokio::runtime::Runtime> {
        self.background
            .runtime
            .get_or_init(|| {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("tokenhop-redis")
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => {
                        runtime.spawn(listen(Arc::clone(&self.background.shared)));
                        Some(runtime)
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the Redis token cache could not start its runtime: serving tokens from memory only");
                        None
                    }
                }
            })
            .as_ref()
    }

    /// True when a call may go to the network: the link is up, or a retry is due.
    pub(crate) fn usable(&self) -> bool {
        match *lock(&self.shared.down) {
            Some(retry_at) => Instant::now() >= retry_at,
            None => true,
        }
    }

    /// Runs `call` with the connection on the cache's runtime, bounded by the timeout.
    pub(crate) async fn run<T, F, Fut>(&self, call: F) -> Outcome<T>
    where
        T: Send + 'static,
        F: FnOnce(Connection) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<T>> + Send + 'static,
    {
        if !self.usable() {
            return Err(Unavailable);
        }
        let runtime = self.runtime().ok_or(Unavailable)?;
        let shared = Arc::clone(&self.shared);
        runtime
            .spawn(async move { shared.call(call).await })
            .await
            .unwrap_or(Err(Unavailable))
    }

    /// [`Link::run`] for a blocking thread: waits at most the timeout (and a little).
    pub(crate) fn run_blocking<T, F, Fut>(&self, call: F) -> Outcome<T>
    where
        T: Send + 'static,
        F: FnOnce(Connection) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<T>> + Send + 'static,
    {
        if !self.usable() {
            return Err(Unavailable);
        }
        let runtime = self.runtime().ok_or(Unavailable)?;
        let shared = Arc::clone(&self.shared);
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = answer.send(shared.call(call).await);
        });
        let wait = self.shared.settings.timeout * 2 + Duration::from_millis(100);
        answered.recv_timeout(wait).unwrap_or(Err(Unavailable))
    }

    /// Runs `work` on the cache's runtime without waiting for it; its handle, to wait
    /// for it from any runtime.
    pub(crate) fn spawn(
        &self,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> Option<tokio::task::JoinHandle<()>> {
        self.runtime().map(|runtime| runtime.spawn(work))
    }

    /// [`Link::spawn`], with a handle to stop the work.
    pub(crate) fn spawn_abortable(
        &self,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> Option<tokio::task::AbortHandle> {
        self.runtime()
            .map(|runtime| runtime.spawn(work).abort_handle())
    }

    /// Runs `work` on the cache's runtime and waits for it (its timers and waits need
    /// no runtime of the caller's); `None` when the cache has no runtime.
    pub(crate) async fn on_runtime<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        self.runtime()?.spawn(work).await.ok()
    }

    /// The state of the partition `name`, shared by every handle on it in this process.
    pub(crate) fn partition_state(&self, name: &str) -> Arc<PartitionState> {
        let mut partitions = lock(&self.shared.partitions);
        if let Some(state) = partitions.get(name).and_then(Weak::upgrade) {
            return state;
        }
        if partitions.len() > 64 && partitions.len().is_power_of_two() {
            partitions.retain(|_, state| state.strong_count() > 0);
        }
        let state = Arc::new(PartitionState::default());
        partitions.insert(name.to_owned(), Arc::downgrade(&state));
        state
    }

    /// What a partition's stamp is made of: events heard for it, and the epoch.
    pub(crate) fn version(&self, state: &PartitionState) -> u64 {
        let epoch = self.shared.epoch.load(Ordering::Acquire);
        (epoch << 32) ^ state.writes_heard.load(Ordering::Acquire)
    }

    /// Every partition in memory loads again before its next lookup.
    pub(crate) fn forget_all(&self) {
        self.shared.forget_all();
    }

    /// The notifier of a lease's release, for the callers of this process that wait.
    pub(crate) fn waiter(&self, lease: &str) -> Arc<Notify> {
        let mut waiters = lock(&self.shared.waiters);
        if let Some(notify) = waiters.get(lease).and_then(Weak::upgrade) {
            return notify;
        }
        waiters.retain(|_, notify| notify.strong_count() > 0);
        let notify = Arc::new(Notify::new());
        waiters.insert(lease.to_owned(), Arc::downgrade(&notify));
        notify
    }

    /// Remembers the `done:` a lease showed (what to take over if looking did not help).
    pub(crate) fn remember_done(&self, lease: &str, done: &str) {
        let mut seen = lock(&self.shared.done_seen);
        if seen.len() >= 4096 {
            seen.clear();
        }
        seen.insert(lease.to_owned(), done.to_owned());
    }

    /// The last `done:` the lease showed this process.
    pub(crate) fn done_seen(&self, lease: &str) -> Option<String> {
        lock(&self.shared.done_seen).get(lease).cloned()
    }

    /// A value no other holder of a lock or lease has: `{instance}:{n}`.
    pub(crate) fn owner(&self) -> String {
        let n = self.shared.owners.fetch_add(1, Ordering::Relaxed);
        format!("{}:{n}", self.shared.instance)
    }
}

impl Shared {
    /// Runs `call` on this runtime with the connection and the timeout, and keeps the
    /// link's health.
    async fn call<T, F, Fut>(&self, call: F) -> Outcome<T>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let timeout = self.settings.timeout;
        let recovering = lock(&self.down).is_some();
        let outcome = match tokio::time::timeout(timeout, self.connection()).await {
            Ok(Ok(connection)) => match self.ready(&connection, recovering).await {
                Err(error) => Err(error),
                Ok(()) => match tokio::time::timeout(timeout, call(connection)).await {
                    Ok(outcome) => outcome.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
                },
            },
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no connection within {} ms", timeout.as_millis())),
        };
        match outcome {
            Ok(value) => {
                self.up();
                Ok(value)
            }
            Err(error) => {
                self.failed(&error);
                Err(Unavailable)
            }
        }
    }

    /// After an outage, a connection manager answers its first call with the error of
    /// its last failed reconnect, and only then reconnects: while `recovering`, ping it
    /// (twice at most) until it has a fresh connection, so that the first call after
    /// Redis is back is not the one that fails and keeps the link down another second.
    async fn ready(
        &self,
        connection: &Connection,
        recovering: bool,
    ) -> std::result::Result<(), String> {
        if !recovering {
            return Ok(());
        }
        let mut last = String::new();
        for _ in 0..2 {
            let mut connection = connection.clone();
            let ping = redis::cmd("PING");
            let answer = ping.query_async::<String>(&mut connection);
            match tokio::time::timeout(self.settings.timeout, answer).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(error)) => last = error.to_string(),
                Err(_) => {
                    return Err(format!(
                        "no answer within {} ms",
                        self.settings.timeout.as_millis()
                    ));
                }
            }
        }
        Err(last)
    }

    async fn connection(&self) -> RedisResult<Connection> {
        self.connection
            .get_or_try_init(|| async {
                match &self.client {
                    Client::Single(client) => {
                        let config = ConnectionManagerConfig::new()
                            .set_connection_timeout(Some(self.settings.timeout))
                            .set_response_timeout(Some(self.settings.timeout))
                            .set_number_of_retries(1);
                        client
                            .get_connection_manager_with_config(config)
                            .await
                            .map(Connection::Single)
                    }
                    Client::Cluster(client) => {
                        client.get_async_connection().await.map(Connection::Cluster)
                    }
                }
            })
            .await
            .cloned()
    }

    fn up(&self) {
        let was_down = lock(&self.down).take().is_some();
        if was_down {
            tracing::info!(
                url = %self.settings.shown_url(),
                "the Redis token cache is reachable again: sharing tokens with the fleet"
            );
            self.forget_all();
        }
    }

    fn failed(&self, error: &str) {
        let mut down = lock(&self.down);
        if down.is_none() {
            tracing::warn!(
                url = %self.settings.shown_url(),
                %error,
                "the Redis token cache is unreachable: serving tokens from memory and asking the identity provider directly until it is back"
            );
        }
        *down = Some(Instant::now() + RETRY_AFTER);
    }

    fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// The channel the cache's events go to.
    pub(crate) fn channel(&self) -> String {
        format!("{}events", self.settings.prefix)
    }

    /// An event from the channel.
    fn heard(&self, event: &str) {
        let mut parts = event.splitn(3, ' ');
        let (Some(instance), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        if instance == self.instance {
            return;
        }
        match kind {
            "w" => {
                let state = lock(&self.partitions).get(name).and_then(Weak::upgrade);
                if let Some(state) = state {
                    state.writes_heard.fetch_add(1, Ordering::AcqRel);
                }
            }
            "r" => {
                let waiter = lock(&self.waiters).get(name).and_then(Weak::upgrade);
                if let Some(waiter) = waiter {
                    waiter.notify_waiters();
                }
            }
            _ => {}
        }
    }
}

/// The subscription to the event channel, kept up for the runtime's life.
async fn listen(shared: Arc<Shared>) {
    let channel = shared.channel();
    loop {
        let subscribed = tokio::time::timeout(shared.settings.timeout, async {
            let mut pubsub = shared.subscriber.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            RedisResult::Ok(pubsub)
        })
        .await;
        if let Ok(Ok(mut pubsub)) = subscribed {
            shared.subscribed.store(true, Ordering::Release);
            // Events may have been missed while not subscribed.
            shared.forget_all();
            let mut events = pubsub.on_message();
            while let Some(message) = events.next().await {
                if let Ok(event) = message.get_payload::<String>() {
                    shared.heard(&event);
                }
            }
            shared.subscribed.store(false, Ordering::Release);
            tracing::debug!("the Redis token cache lost its subscription; subscribing again");
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    // Without randomness the pid alone still tells this process's events apart.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
