//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// What `--help` shows after the options.
const AFTER_HELP: &str = "\
Secrets never go on the command line: the client secret comes from the environment \
variable TOKENHOP_CLIENT_SECRET or from --client-secret-file, certificate \
passwords from the environment variable named by --password-env, and PKCS#11 token \
PINs from the environment variable named by --pin-env (default TOKENHOP_PKCS11_PIN) \
or from --pin-file.

Exit codes:
  0  success
  1  any other failure (the resource answered an HTTP error, a file could not be written, ...)
  2  usage: the command line is wrong
  3  interaction required: a user must sign in
  4  the token endpoint refused the request (an OAuth error such as invalid_client, with its AADSTS codes)
  5  network: no answer, or no valid answer, from the authority or resource
  6  configuration: a missing or invalid setting, certificate or file
  7  throttled: the server asked to wait (Retry-After) longer than tokenhop waits; try again after the time the message names

A resource's claims challenge that a new token does not satisfy exits with 3 (interaction
required): the message carries the claims to sign in with.";

/// Get OAuth2 access tokens from Microsoft Entra ID, and look after the token cache.
#[derive(Debug, Parser)]
#[command(name = "tokenhop", version, after_long_help = AFTER_HELP)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// A configuration file (JSON, YAML or TOML) that chooses the flow and its settings;
    /// `--flow` on the command line takes precedence.
    #[arg(long, global = true, env = "TOKENHOP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The authority: `https://login.microsoftonline.com/{tenant}`, a B2C or CIAM URL, or
    /// `https://{host}/adfs` (http only on loopback).
    #[arg(long, global = true, env = "TOKENHOP_AUTHORITY", value_name = "URL")]
    pub authority: Option<String>,

    /// A generic OpenID Connect provider instead of an authority: its issuer URL (its
    /// endpoints come from `{issuer}/.well-known/openid-configuration`).
    #[arg(
        long,
        global = true,
        env = "TOKENHOP_ISSUER",
        value_name = "URL",
        conflicts_with_all = ["authority", "tenant"]
    )]
    pub issuer: Option<String>,

    /// The tenant, at the cloud's authority host (instead of --authority).
    #[arg(
        long,
        global = true,
        env = "TOKENHOP_TENANT",
        value_name = "TENANT",
        conflicts_with = "authority"
    )]
    pub tenant: Option<String>,

    /// The cloud: public (default), usgov, usgov-dod or china. It gives the authority
    /// host for --tenant and the Agent ID flows, and what `--resource graph` means.
    #[arg(long, global = true, env = "TOKENHOP_CLOUD", value_name = "NAME", value_parser = parse_cloud)]
    pub cloud: Option<tokenhop_flows::Cloud>,

    /// Send every request through this proxy (`http://[user:password@]host:port`);
    /// default: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY.
    #[arg(long, global = true, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,

    /// Use no proxy, whatever the environment says.
    #[arg(long, global = true)]
    pub no_proxy: bool,

    /// Trust the authority without validating it (no instance discovery, no issuer
    /// or endpoint check): only for a host you know.
    #[arg(long, global = true)]
    pub no_authority_validation: bool,

    /// The application (client) id.
    #[arg(long, global = true, env = "TOKENHOP_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,

    /// A file holding the client secret (instead of TOKENHOP_CLIENT_SECRET).
    #[arg(long, global = true, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,

    /// The token cache: a file (default: in the platform's user config directory), or
    /// a Redis cache that a fleet shares, `redis://host:port/db` or `rediss://…` (its
    /// key, if sealed at rest, in TOKENHOP_REDIS_ENCRYPTION_KEY).
    #[arg(
        long,
        global = true,
        value_name = "PATH|URL",
        conflicts_with = "no_cache"
    )]
    pub cache: Option<PathBuf>,

    /// Keep tokens in memory only, for this one command.
    #[arg(long, global = true)]
    pub no_cache: bool,

    /// Trust one more CA certificate (PEM) for TLS, besides the platform's roots.
    #[arg(long, global = true, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,

    /// Declare a client capability, sent with every token request (`cp1`: the client
    /// handles CAE claims challenges, so CAE-capable resources give long-lived tokens);
    /// repeat for several.
    #[arg(long = "client-capability", global = true, value_name = "CAP", action = ArgAction::Append)]
    pub client_capabilities: Vec<String>,

    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Log what happens to stderr (-v debug, -vv trace); secrets are redacted.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// The command's one HTTP client, made on first use (see [`GlobalArgs::http`]).
    #[arg(skip)]
    pub http_client: std::sync::OnceLock<tokenhop_flows::HttpClient>,
}

fn parse_cloud(name: &str) -> Result<tokenhop_flows::Cloud, String> {
    tokenhop_flows::Cloud::from_name(name).map_err(|e| e.to_string())
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an access token (alone, for pipes; or as JSON with --json).
    Token(TokenArgs),
    /// Sign a user in (browser, or --device-code) and cache the account.
    Login(LoginArgs),
    /// GET a URL with a bearer token and print the response body.
    Get(GetArgs),
    /// List the cached accounts (or, with --azure-cli, the Azure CLI's sign-ins).
    Accounts(AccountsArgs),
    /// Remove an account and its tokens from the cache.
    Logout(LogoutArgs),
    /// Look at or change the token cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Certificates: thumbprints, client assertions, self-signed certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Show a JWT's header and claims (never its signature). Nothing is verified.
    Decode(DecodeArgs),
}

/// How to get a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Flow {
    /// The cached account's token, refreshed with its refresh token when needed; never
    /// interactive (sign in with `login` first).
    Silent,
    /// A user, by the device code flow (the message goes to stderr).
    DeviceCode,
    /// A user, in the browser (falls back to the device code flow).
    Interactive,
    /// On-behalf-of the user whose token is in --assertion-file (the middle tier
    /// authenticates with its secret or --certificate).
    OnBehalfOf,
    /// Workload identity from AZURE_CLIENT_ID, AZURE_TENANT_ID,
    /// AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST.
    WorkloadIdentity,
    /// Entra Agent ID, three hops: the agent user's delegated token.
    AgentUser,
    /// Client credentials with a secret (TOKENHOP_CLIENT_SECRET or --client-secret-file).
    ClientSecret,
    /// Client credentials with a certificate (--certificate).
    ClientCertificate,
    /// The host's managed identity, the host found from the environment as MSAL finds
    /// it: Service Fabric, App Service, Machine Learning, Cloud Shell, Azure Arc, else
    /// IMDS (-v says which and why).
    ManagedIdentity,
    /// Entra Agent ID, two hops: the blueprint's token, then the agent identity's.
    AgentIdentity,
    /// The sign-in of `az login`, from the Azure CLI's own files ($AZURE_CONFIG_DIR or
    /// ~/.azure): the default subscription's tenant and account unless --tenant or
    /// --subscription says otherwise. Runs `az` only when its token cache is encrypted.
    AzureCli,
    /// An app from AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or
    /// AZURE_CLIENT_CERTIFICATE_PATH (+ AZURE_CLIENT_CERTIFICATE_PASSWORD,
    /// AZURE_CLIENT_SEND_CERTIFICATE_CHAIN), at AZURE_AUTHORITY_HOST.
    Environment,
    /// The first that is set up of environment, workload-identity, managed-identity
    /// (when its endpoint answers) and azure-cli (-v says which).
    Default,
}

/// The credential options `token` and `get` share.
#[derive(Debug, Args)]
pub struct FlowArgs {
    /// The flow (default: agent-identity with --agent-id, client-certificate with
    /// --certificate, managed-identity with --mi-client-id, --mi-object-id or
    /// --mi-resource-id, otherwise client-secret).
    #[arg(long, value_enum)]
    pub flow: Option<Flow>,

    /// The client certificate with its private key: PEM, or PFX/PKCS#12; or
    /// `pkcs11:token=…;object=…`, a key that stays in its PKCS#11 token (with
    /// --pkcs11-module), whose certificate the token holds.
    #[arg(long, value_name = "PEM|PFX|pkcs11:URI", value_parser = CertificateArg::parse)]
    pub certificate: Option<CertificateArg>,

    /// The environment variable holding the certificate's password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,

    /// A user-assigned managed identity, by client id (default: system-assigned).
    #[arg(long, value_name = "ID", group = "mi_id")]
    pub mi_client_id: Option<String>,

    /// A user-assigned managed identity, by object (principal) id.
    #[arg(long, value_name = "ID", group = "mi_id")]
    pub mi_object_id: Option<String>,

    /// A user-assigned managed identity, by ARM resource id.
    #[arg(long, value_name = "ID", group = "mi_id")]
    pub mi_resource_id: Option<String>,

    /// Agent ID: the blueprint application's client id.
    #[arg(long, value_name = "ID")]
    pub blueprint_id: Option<String>,

    /// Agent ID: the blueprint's certificate with its private key (PEM or PFX), or
    /// `pkcs11:…`, a key in a PKCS#11 token.
    #[arg(long, value_name = "PEM|PFX|pkcs11:URI", value_parser = CertificateArg::parse)]
    pub blueprint_certificate: Option<CertificateArg>,

    /// Agent ID: the agent identity's client id.
    #[arg(long, value_name = "ID")]
    pub agent_id: Option<String>,

    /// Agent ID, three hops: the agent user's object id.
    #[arg(long, value_name = "OID", conflicts_with = "agent_user_upn")]
    pub agent_user_id: Option<String>,

    /// Agent ID, three hops: the agent user's UPN.
    #[arg(long, value_name = "UPN")]
    pub agent_user_upn: Option<String>,

    /// Agent ID: the resource when no --scope is given: graph, storage, or a scope.
    #[arg(long, value_name = "graph|storage|SCOPE")]
    pub resource: Option<String>,

    /// On-behalf-of: a file holding the incoming user token.
    #[arg(long, value_name = "FILE")]
    pub assertion_file: Option<PathBuf>,

    /// User flows: the cached account to use (its username); the first otherwise.
    #[arg(long, value_name = "A")]
    pub account: Option<String>,

    /// azure-cli: the subscription, by name or id, whose tenant and account to use
    /// (or --tenant, the tenant to ask tokens in; default: the default subscription's).
    #[arg(long, value_name = "S")]
    pub subscription: Option<String>,

    /// The PKCS#11 token of a `pkcs11:` certificate.
    #[command(flatten)]
    pub pkcs11: Pkcs11Args,
}

/// A certificate option's value: a file, or a key in a PKCS#11 token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateArg {
    /// A PEM or PFX file.
    File(PathBuf),
    /// An RFC 7512 URI (`pkcs11:…`), checked when it is used.
    Pkcs11(String),
}

impl CertificateArg {
    /// `pkcs11:…` is a URI (a file of that name can be given as `./pkcs11:…`),
    /// anything else a path.
    pub fn parse(value: &str) -> Result<Self, std::convert::Infallible> {
        let is_uri = value
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("pkcs11:"));
        Ok(if is_uri {
            Self::Pkcs11(value.to_owned())
        } else {
            Self::File(PathBuf::from(value))
        })
    }
}

/// Where a PKCS#11 token is and how to log in to it; the PIN never comes from the
/// command line.
#[derive(Debug, Args)]
pub struct Pkcs11Args {
    /// The PKCS#11 module, the token vendor's library (e.g.
    /// /usr/lib/softhsm/libsofthsm2.so); default: TOKENHOP_PKCS11_MODULE.
    #[arg(long, value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,

    /// The environment variable holding the token's user PIN (default:
    /// TOKENHOP_PKCS11_PIN).
    #[arg(long, value_name = "VAR", conflicts_with = "pin_file")]
    pub pin_env: Option<String>,

    /// A file holding the token's user PIN (its first line), instead of --pin-env.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
}

/// `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The scopes (e.g. `https://graph.microsoft.com/.default`); repeat or list several.
    /// Optional with --config or --resource.
    #[arg(long = "scope", value_name = "S", num_args = 1.., action = ArgAction::Append)]
    pub scopes: Vec<String>,

    /// The credential.
    #[command(flatten)]
    pub flow: FlowArgs,

    /// Ignore a cached token and ask the authority for a new one.
    #[arg(long)]
    pub force_refresh: bool,
}

/// `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The URL to GET.
    pub url: String,

    /// The scopes of the token to send; repeat or list several. Optional with --config
    /// or --resource.
    #[arg(long = "scope", value_name = "S", num_args = 1.., action = ArgAction::Append)]
    pub scopes: Vec<String>,

    /// The credential.
    #[command(flatten)]
    pub flow: FlowArgs,
}

/// `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Use the device code flow instead of the browser.
    #[arg(long)]
    pub device_code: bool,

    /// The scopes to sign in for; repeat or list several.
    #[arg(long = "scope", value_name = "S", required = true, num_args = 1.., action = ArgAction::Append)]
    pub scopes: Vec<String>,
}

/// `accounts`.
#[derive(Debug, Args)]
pub struct AccountsArgs {
    /// The Azure CLI's signed-in accounts and subscriptions ($AZURE_CONFIG_DIR or
    /// ~/.azure), instead of tokenhop's cache.
    #[arg(long)]
    pub azure_cli: bool,
}

/// `logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The account: its username or home account id (needed when several are cached).
    #[arg(long, value_name = "A")]
    pub account: Option<String>,
}

/// `cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Print where the cache file is.
    Path,
    /// List the cache's entries (kind, client, scopes, expiry), never a token.
    List,
    /// Remove every entry.
    Clear,
    /// Add the entries of an MSAL-format cache file (`-` reads stdin).
    Import {
        /// The file to read.
        file: PathBuf,
    },
    /// Write the cache to a file (mode 0600: it holds tokens).
    Export {
        /// The file to write.
        file: PathBuf,
    },
}

/// The digests a thumbprint can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    /// SHA-1 (`x5t`, and what the Azure portal shows).
    Sha1,
    /// SHA-256 (`x5t#S256`).
    Sha256,
}

/// Assertion signing algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Alg {
    /// RSASSA-PSS with SHA-256, header `x5t#S256`.
    #[value(name = "PS256")]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, header `x5t` (SHA-1).
    #[value(name = "RS256")]
    Rs256,
}

/// `cert …`.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Print a certificate's thumbprint (default SHA-256, base64url as in `x5t#S256`).
    Thumbprint(ThumbprintArgs),
    /// Print a signed client assertion (a JWT) for a certificate credential.
    Assertion(AssertionArgs),
    /// Make a self-signed certificate and its private key, or (--pkcs11) a self-signed
    /// certificate for a key in a PKCS#11 token, stored in the token.
    Generate(GenerateArgs),
}

/// `cert thumbprint`.
#[derive(Debug, Args)]
pub struct ThumbprintArgs {
    /// The certificate: PEM, DER, or PFX/PKCS#12.
    pub file: PathBuf,
    /// SHA-1 (`x5t`; the portal's thumbprint with --hex).
    #[arg(long, conflicts_with = "sha256")]
    pub sha1: bool,
    /// SHA-256 (`x5t#S256`), the default.
    #[arg(long)]
    pub sha256: bool,
    /// Upper-case hex instead of base64url.
    #[arg(long)]
    pub hex: bool,
    /// The environment variable holding a PFX file's password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

impl ThumbprintArgs {
    /// The digest asked for.
    pub fn digest(&self) -> Digest {
        if self.sha1 {
            Digest::Sha1
        } else {
            Digest::Sha256
        }
    }
}

/// `cert assertion`.
#[derive(Debug, Args)]
pub struct AssertionArgs {
    /// The certificate with its private key: PEM or PFX.
    #[arg(long, value_name = "FILE")]
    pub certificate: PathBuf,
    /// The audience: the token endpoint, e.g.
    /// `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`.
    #[arg(long, value_name = "URL")]
    pub audience: String,
    /// The signing algorithm.
    #[arg(long, value_enum, ignore_case = true, default_value = "PS256")]
    pub alg: Alg,
    /// Send the certificate chain in the `x5c` header (subject name/issuer authentication).
    #[arg(long)]
    pub x5c: bool,
    /// The environment variable holding the certificate's password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

/// `cert generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The subject's common name (CN).
    #[arg(long, value_name = "CN")]
    pub subject: String,
    /// How many days the certificate is valid.
    #[arg(long, value_name = "N", default_value_t = 365)]
    pub days: u32,
    /// Where to write the certificate (PEM); an existing file is not replaced. Optional
    /// with --pkcs11.
    #[arg(long, value_name = "F", required_unless_present = "pkcs11")]
    pub out_cert: Option<PathBuf>,
    /// Where to write the private key (PKCS#8 PEM, mode 0600); an existing file is not replaced.
    #[arg(
        long,
        value_name = "F",
        required_unless_present = "pkcs11",
        conflicts_with = "pkcs11"
    )]
    pub out_key: Option<PathBuf>,
    /// Certify the key the PKCS#11 URI names (`pkcs11:token=…;object=…`) instead of
    /// making one: the certificate is signed in the token and stored there, beside the
    /// key (the token must not hold one for it yet); the key never leaves the token.
    #[arg(long, value_name = "URI")]
    pub pkcs11: Option<String>,
    /// The token of --pkcs11.
    #[command(flatten)]
    pub token: Pkcs11Args,
}

/// `decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The JWT; `-` or nothing reads it from stdin.
    #[arg(value_name = "TOKEN|-")]
    pub token: Option<String>,
}
