//! Real `redis-server` processes for tests (Debian's `redis-server`, which `.ci/run`
//! installs): each on an ephemeral loopback port, with persistence off and its files
//! in a temporary directory, stopped when dropped. Under `CI=true` a server that cannot
//! start fails the test; elsewhere [`RedisServer::start`] returns `None` after one line
//! that says why, and the test skips.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a server may take to answer after it was started.
const STARTUP: Duration = Duration::from_secs(15);

/// A `redis-server` this test started.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    tls: Option<Tls>,
    child: Mutex<Option<Child>>,
}

/// The certificates of a TLS server.
#[derive(Debug)]
struct Tls {
    ca_pem: String,
}

impl RedisServer {
    /// A plain server, or `None` (skip) outside CI when none can start.
    pub fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// A server that speaks only TLS (`rediss://`), with a certificate for `127.0.0.1`
    /// and `localhost` signed by a CA of its own ([`RedisServer::ca_pem`]).
    pub fn start_tls() -> Option<Self> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Option<Self> {
        if !available() {
            return None;
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let tls = tls.then(|| write_certificates(dir.path()));
        let mut server = Self {
            port: 0,
            dir,
            tls,
            child: Mutex::new(None),
        };
        // Another process may take the free port first: try a few.
        for _ in 0..5 {
            server.port = free_port(|_| true);
            if server.launch() {
                return Some(server);
            }
        }
        fail(&format!(
            "redis-server did not start; its log:\n{}",
            server.log()
        ))
    }

    /// `redis://127.0.0.1:{port}/0` (`rediss://localhost:…` for TLS).
    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("rediss://localhost:{}/0", self.port),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA certificate (PEM) of a TLS server.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// Stops the server (SIGKILL) and waits until it is gone; [`RedisServer::restart`]
    /// starts it again on the same port, empty.
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on its port (after [`RedisServer::stop`]).
    pub fn restart(&self) {
        self.stop();
        assert!(
            self.launch(),
            "redis-server did not start again:\n{}",
            self.log()
        );
    }

    /// Runs `redis-cli` against the server with `args`; its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut command = Command::new("redis-cli");
        command.arg("-p").arg(self.port.to_string());
        if self.tls.is_some() {
            command
                .arg("-h")
                .arg("localhost")
                .arg("--tls")
                .arg("--cacert")
                .arg(self.dir.path().join("ca.pem"));
        } else {
            command.arg("-h").arg("127.0.0.1");
        }
        let output = command.args(args).output().expect("redis-cli runs");
        assert!(
            output.status.success(),
            "redis-cli {args:?} failed: {output:?}"
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    fn launch(&self) -> bool {
        let mut command = Command::new("redis-server");
        match &self.tls {
            Some(_) => {
                let path = |name: &str| self.dir.path().join(name);
                command
                    .args(["--port", "0", "--tls-port"])
                    .arg(self.port.to_string())
                    .arg("--tls-cert-file")
                    .arg(path("server.pem"))
                    .arg("--tls-key-file")
                    .arg(path("server.key"))
                    .arg("--tls-ca-cert-file")
                    .arg(path("ca.pem"))
                    .args(["--tls-auth-clients", "no"]);
            }
            None => {
                command.arg("--port").arg(self.port.to_string());
            }
        }
        let child = command
            .args(persistence_off(self.dir.path()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            return false;
        };
        *self.child.lock().unwrap() = Some(child);
        let ready = match &self.tls {
            Some(_) => wait_until(|| self.cli_ping()),
            None => wait_until(|| ping(self.port)),
        };
        if !ready {
            self.stop();
        }
        ready
    }

    fn cli_ping(&self) -> bool {
        Command::new("redis-cli")
            .args(["-h", "localhost", "-p"])
            .arg(self.port.to_string())
            .arg("--tls")
            .arg("--cacert")
            .arg(self.dir.path().join("ca.pem"))
            .arg("PING")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Three `redis-server`s in cluster mode (no replicas), their slots assigned.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<ClusterNode>,
}

#[derive(Debug)]
struct ClusterNode {
    port: u16,
    _dir: tempfile::TempDir,
    child: Child,
}

impl RedisCluster {
    /// A three-node cluster, or `None` (skip) outside CI when none can start.
    pub fn start() -> Option<Self> {
        if !available() {
            return None;
        }
        let mut nodes = Vec::new();
        for _ in 0..3 {
            // The cluster bus listens 10000 above the port.
            let port = free_port(|port| {
                port < 55000 && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok()
            });
            let dir = tempfile::tempdir().expect("a temporary directory");
            let child = Command::new("redis-server")
                .arg("--port")
                .arg(port.to_string())
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                .arg("--cluster-config-file")
                .arg(dir.path().join("nodes.conf"))
                .args(persistence_off(dir.path()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server starts");
            nodes.push(ClusterNode {
                port,
                _dir: dir,
                child,
            });
            if !wait_until(|| ping(port)) {
                return fail("a cluster node did not start");
            }
        }
        let cluster = Self { nodes };
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        if !created.status.success() {
            return fail(&format!("redis-cli --cluster create failed: {created:?}"));
        }
        let ok = wait_until(|| {
            cluster.nodes.iter().all(|n| {
                Command::new("redis-cli")
                    .args(["-h", "127.0.0.1", "-p"])
                    .arg(n.port.to_string())
                    .args(["CLUSTER", "INFO"])
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
            })
        });
        if !ok {
            return fail("the cluster did not reach cluster_state:ok");
        }
        Some(cluster)
    }

    /// The URL of its first node (a seed for cluster clients).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.nodes[0].port)
    }

    /// Runs `redis-cli -c` (following redirections) against the first node.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-c", "-h", "127.0.0.1", "-p"])
            .arg(self.nodes[0].port.to_string())
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// Each node is stopped when dropped, so a cluster that fails half-way through
/// starting leaves no `redis-server` behind either.
impl Drop for ClusterNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// No RDB snapshots, no AOF, files in `dir`.
fn persistence_off(dir: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> =
        ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            .iter()
            .map(Into::into)
            .collect();
    args.push("--dir".into());
    args.push(dir.as_os_str().to_owned());
    args.push("--logfile".into());
    args.push(dir.join("redis.log").into_os_string());
    args
}

/// True when `redis-server` and `redis-cli` run; otherwise fails under CI and says so.
fn available() -> bool {
    let runs = |program: &str| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs("redis-server") && runs("redis-cli") {
        return true;
    }
    fail::<()>("redis-server or redis-cli is not installed (Debian: apt-get install redis-server; .ci/run installs it)").is_some()
}

/// Under CI a panic; elsewhere one line on stderr and `None`.
fn fail<T>(why: &str) -> Option<T> {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{why}");
    }
    eprintln!("skipping: {why}");
    None
}

fn free_port(usable: impl Fn(u16) -> bool) -> u16 {
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("an ephemeral port");
        if usable(port) {
            return port;
        }
    }
    panic!("no usable ephemeral port");
}

fn wait_until(mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + STARTUP;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && &answer == b"+PONG\r\n"
}

/// A CA, and a server certificate for `localhost` and `127.0.0.1` signed by it, as
/// `ca.pem`, `server.pem` and `server.key` in `dir`.
fn write_certificates(dir: &Path) -> Tls {
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "tokenhop test Redis CA");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).expect("a CA certificate");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().expect("a server key");
    let mut server =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server parameters");
    server.use_authority_key_identifier_extension = true;
    server.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = server
        .signed_by(&key, &issuer)
        .expect("a server certificate");
    let write =
        |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("certificate files");
    write("ca.pem", &ca_cert.pem());
    write("server.pem", &cert.pem());
    write("server.key", &key.serialize_pem());
    Tls {
        ca_pem: ca_cert.pem(),
    }
}
