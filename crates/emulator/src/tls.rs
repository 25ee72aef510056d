//! TLS for `--tls`: a CA generated at start, a server certificate for `127.0.0.1`,
//! `localhost` and `::1` signed by it, and a listener that hands axum TLS streams; and
//! Service Fabric's self-signed certificate, which clients trust by its thumbprint.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::error::EmulatorError;

/// A CA and the server configuration it vouches for.
pub(crate) struct TlsMaterial {
    /// The CA certificate clients trust, PEM.
    pub(crate) ca_pem: String,
    /// The server's own certificate, DER.
    pub(crate) server_der: Vec<u8>,
    config: Arc<rustls::ServerConfig>,
}

fn startup(what: &str) -> impl Fn(&dyn std::fmt::Display) -> EmulatorError + '_ {
    move |e| EmulatorError::Startup(format!("cannot {what}: {e}"))
}

impl TlsMaterial {
    pub(crate) fn generate() -> Result<Self, EmulatorError> {
        let ca_key = rcgen::KeyPair::generate().map_err(|e| startup("make the CA key")(&e))?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| startup("make the CA")(&e))?;
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tokenhop emulator CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|e| startup("sign the CA")(&e))?;
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let server_key =
            rcgen::KeyPair::generate().map_err(|e| startup("make the server key")(&e))?;
        let mut server_params = rcgen::CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])
        .map_err(|e| startup("make the server certificate")(&e))?;
        server_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        server_params.use_authority_key_identifier_extension = true;
        server_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .map_err(|e| startup("sign the server certificate")(&e))?;

        Ok(Self {
            ca_pem: ca_cert.pem(),
            server_der: server_cert.der().to_vec(),
            config: server_config(
                vec![server_cert.der().clone(), ca_cert.der().clone()],
                &server_key,
            )?,
        })
    }

    /// A self-signed server certificate for the loopback names, as a Service Fabric
    /// cluster has: no CA vouches for it, clients pin its thumbprint. `ca_pem` is the
    /// certificate itself.
    pub(crate) fn self_signed() -> Result<Self, EmulatorError> {
        let key = rcgen::KeyPair::generate().map_err(|e| startup("make the server key")(&e))?;
        let mut params = rcgen::CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])
        .map_err(|e| startup("make the server certificate")(&e))?;
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "tokenhop emulator Service Fabric",
        );
        let certificate = params
            .self_signed(&key)
            .map_err(|e| startup("sign the server certificate")(&e))?;
        Ok(Self {
            ca_pem: certificate.pem(),
            server_der: certificate.der().to_vec(),
            config: server_config(vec![certificate.der().clone()], &key)?,
        })
    }

    /// Accepts TCP connections on `listener` and completes TLS handshakes in their own
    /// tasks, so that one slow client does not hold up the others.
    pub(crate) fn listen(&self, listener: TcpListener) -> TlsListener {
        let acceptor = TlsAcceptor::from(Arc::clone(&self.config));
        let local = listener.local_addr().ok();
        let (ready, streams) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = ready.closed() => return,
                };
                let Ok((tcp, peer)) = accepted else {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let acceptor = acceptor.clone();
                let ready = ready.clone();
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(tcp),
                    );
                    if let Ok(Ok(stream)) = handshake.await {
                        let _ = ready.send((stream, peer)).await;
                    }
                });
            }
        });
        TlsListener { streams, local }
    }
}

fn server_config(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: &rcgen::KeyPair,
) -> Result<Arc<rustls::ServerConfig>, EmulatorError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| startup("configure TLS")(&e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| startup("configure TLS")(&e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// TLS connections ready for HTTP.
pub(crate) struct TlsListener {
    streams: mpsc::Receiver<(TlsStream<tokio::net::TcpStream>, SocketAddr)>,
    local: Option<SocketAddr>,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.streams.recv().await {
            Some(accepted) => accepted,
            // The acceptor only stops once this listener is gone; wait for shutdown.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.local
            .ok_or_else(|| std::io::Error::other("the listener has no local address"))
    }
}
