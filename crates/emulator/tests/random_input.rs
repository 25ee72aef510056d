//! Random bytes posted to every endpoint never produce a 5xx.

use std::sync::OnceLock;

mod common;

use proptest::prelude::*;
use tokenhop_emulator::{Emulator, EmulatorHandle};

/// One emulator for every case (it stops when the test process ends).
fn shared() -> &'static (tokio::runtime::Runtime, EmulatorHandle) {
    static SHARED: OnceLock<(tokio::runtime::Runtime, EmulatorHandle)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let emulator = runtime.block_on(Emulator::builder().start()).unwrap();
        (runtime, emulator)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bodies_never_get_a_server_error(body in prop::collection::vec(any::<u8>(), 0..2048), path in 0usize..5) {
        let (runtime, emulator) = shared();
        let tenantish: String = String::from_utf8_lossy(&body[..body.len().min(8)])
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let paths = [
            format!("{}/oauth2/v2.0/token", emulator.authority()),
            format!("{}/v2.0/.well-known/openid-configuration", emulator.authority()),
            format!("{}/admin/clock", emulator.url()),
            format!("{}/admin/reset", emulator.url()),
            format!("{}/x{tenantish}/oauth2/v2.0/token", emulator.url()),
        ];
        let status = runtime.block_on(async {
            common::http().post(&paths[path]).body(body.clone()).send().await.map(|r| r.status().as_u16())
        });
        let status = status.unwrap();
        prop_assert!(status < 500, "{} answered {}", paths[path], status);
    }
}
