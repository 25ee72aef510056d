//! Azurite, Microsoft's storage emulator, as a process of our own: its blob service on an
//! ephemeral loopback port, over HTTPS with a certificate made here (Azure SDK clients
//! and Azurite both refuse bearer tokens over plain http), checking tokens as Storage
//! does (`--oauth basic`: issuer, audience, lifetime; not the signature).
//!
//! `cargo xtask ci` installs the pinned Azurite (tests/interop/azurite/package.json)
//! as the npm project `azurite` into `$HOME/.cache/tokenhop/node/azurite`, or
//! `$TOKENHOP_NODE_DIR/azurite`; the machine's Node runs it. Shared by the tests and
//! the `azurite_blob` example (through `#[path]`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, Transport, Url};
use azure_storage_blob::{BlobServiceClient, BlobServiceClientOptions};

/// The account every Azurite serves.
const ACCOUNT: &str = "devstoreaccount1";
/// How long Azurite may take to say it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why Azurite did not start.
#[derive(Debug)]
pub enum AzuriteError {
    /// Node or the Azurite package is not there: outside CI a test skips.
    NotInstalled(String),
    /// It is there but did not start.
    Failed(String),
}

impl std::error::Error for AzuriteError {}

impl std::fmt::Display for AzuriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotInstalled(why) | Self::Failed(why) => f.write_str(why),
        }
    }
}

/// A running Azurite blob service; stopped (and its files removed) when dropped.
pub struct Azurite {
    child: Child,
    dir: PathBuf,
    /// `https://127.0.0.1:PORT/devstoreaccount1`.
    pub account_url: Url,
    /// The certificate it serves, PEM: the one clients must trust.
    pub certificate_pem: String,
}

impl Azurite {
    /// Starts Azurite's blob service, in memory, on a port of its choosing.
    pub fn start() -> Result<Self, AzuriteError> {
        let main = azurite_dir().join("node_modules/azurite/dist/src/blob/main.js");
        if !main.exists() {
            return Err(AzuriteError::NotInstalled(format!(
                "Azurite is not installed at {} (cargo xtask ci installs it from tests/interop/azurite)",
                main.display()
            )));
        }
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            AzuriteError::Failed(format!("Azurite: cannot {what}: {e}"))
        };
        let certified = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_owned(),
            "localhost".to_owned(),
        ])
        .map_err(|e| failed("make its certificate", &e))?;
        let dir = std::env::temp_dir().join(format!(
            "tokenhop-azurite-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| failed("create its directory", &e))?;
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let certificate_pem = certified.cert.pem();
        std::fs::write(&cert, &certificate_pem).map_err(|e| failed("write cert.pem", &e))?;
        std::fs::write(&key, certified.signing_key.serialize_pem())
            .map_err(|e| failed("write key.pem", &e))?;
        let spawned = Command::new("node")
            .arg(&main)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--oauth",
                "basic",
            ])
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .args(["--inMemoryPersistence", "--extentMemoryLimit", "256"])
            .args(["--disableTelemetry", "--skipApiVersionCheck"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(AzuriteError::NotInstalled(
                    "node is not installed (Azurite runs on the machine's Node 20)".into(),
                ));
            }
            Err(e) => return Err(failed("start node", &e)),
        };
        match listening_url(&mut child) {
            Ok(url) => Ok(Self {
                child,
                dir,
                account_url: url
                    .join(ACCOUNT)
                    .map_err(|e| failed("name its account URL", &e))?,
                certificate_pem,
            }),
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&dir);
                Err(AzuriteError::Failed(why))
            }
        }
    }

    /// A blob service client for the account that authenticates with `credential`,
    /// sending through [`https_transport`] (which trusts Azurite's certificate).
    pub fn blob_service(
        &self,
        credential: Arc<dyn TokenCredential>,
    ) -> azure_core::Result<BlobServiceClient> {
        let options = BlobServiceClientOptions {
            client_options: ClientOptions {
                transport: Some(https_transport(&[&self.certificate_pem])?),
                ..ClientOptions::default()
            },
            ..BlobServiceClientOptions::default()
        };
        BlobServiceClient::new(self.account_url.clone(), Some(credential), Some(options))
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An Azure SDK transport over reqwest with rustls' `ring` provider (what tokenhop-flows
/// uses, so the workspace builds one provider) that trusts `pem_certificates` besides
/// the system's roots. No automatic decompression, as the storage clients need.
pub fn https_transport(pem_certificates: &[&str]) -> azure_core::Result<Transport> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder();
    for pem in pem_certificates {
        let certificate = reqwest::Certificate::from_pem(pem.as_bytes())
            .map_err(|e| azure_core::Error::new(azure_core::error::ErrorKind::Other, e))?;
        builder = builder.add_root_certificate(certificate);
    }
    let client = builder
        .build()
        .map_err(|e| azure_core::Error::new(azure_core::error::ErrorKind::Other, e))?;
    Ok(Transport::new(Arc::new(client)))
}

/// Where xtask's `npm_project("azurite")` installs the pinned Azurite.
fn azurite_dir() -> PathBuf {
    let node_dir = std::env::var_os("TOKENHOP_NODE_DIR").map_or_else(
        || {
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
            home.join(".cache/tokenhop/node")
        },
        PathBuf::from,
    );
    node_dir.join("azurite")
}

/// The URL Azurite prints once it listens (`… successfully listens on https://…`);
/// its later output is read and dropped so that it never blocks on a full pipe.
fn listening_url(child: &mut Child) -> Result<Url, String> {
    let stdout = child
        .stdout
        .take()
        .ok_or("Azurite's output cannot be read")?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some((_, url)) = line.split_once("successfully listens on ") {
                let _ = sender.send(url.trim().to_owned());
                break;
            }
        }
        lines.for_each(drop);
    });
    let url = receiver.recv_timeout(START_TIMEOUT).map_err(|_| {
        let status = child.try_wait().ok().flatten();
        format!(
            "Azurite did not say it listens within {}s (exit status: {status:?})",
            START_TIMEOUT.as_secs()
        )
    })?;
    Url::parse(&url).map_err(|e| format!("Azurite listens on {url:?}, not a URL: {e}"))
}

/// A number no other Azurite of this process has used.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
