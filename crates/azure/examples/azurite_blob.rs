//! A blob stored and read back in Azurite through the official `azure_storage_blob`
//! client, with the tokenhop credential a configuration file describes (any flow:
//! `cargo xtask demo` gives it the Entra Agent ID agent user with `resource: storage`).
//!
//! ```text
//! cargo run -p tokenhop-azure --example azurite_blob -- auth.yaml
//! ```
//!
//! Starts Azurite (installed by `cargo xtask ci`, see `tests/azure/common/azurite.rs`),
//! creates a container, uploads a blob, downloads it, and prints one JSON line:
//! `{"container", "blob", "bytes", "read_back_equal"}`. Exits non-zero on any failure.

#[path = "../tests/azure/common/azurite.rs"]
mod azurite;

use azure_core::http::RequestContent;
use tokenhop_azure::AzureCredential;
use tokenhop_flows::AuthConfig;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or("usage: azurite_blob CONFIG_FILE (a tokenhop configuration file)")?;
    let auth = AuthConfig::load(path.as_ref())?;
    let azurite = azurite::Azurite::start()?;
    let service = azurite.blob_service(AzureCredential::new(auth.credential))?;

    let (container, blob) = ("demo", "hello.txt");
    let content = b"stored and read back with a tokenhop credential\n".to_vec();
    let container_client = service.blob_container_client(container);
    container_client.create(None).await?;
    let blob_client = container_client.blob_client(blob);
    blob_client
        .upload(RequestContent::from(content.clone()), None)
        .await?;
    let read = blob_client.download(None).await?.body.collect().await?;
    let line = serde_json::json!({
        "container": container,
        "blob": blob,
        "bytes": read.len(),
        "read_back_equal": read.as_ref() == content.as_slice(),
    });
    println!("{line}");
    if read.as_ref() == content.as_slice() {
        Ok(())
    } else {
        Err("the blob read back differs from the one stored".into())
    }
}
