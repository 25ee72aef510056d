//! Random bytes posted to every endpoint never produce a 5xx.

use std::sync::OnceLock;

use proptest::prelude::*;
use tokenhop_emulator::{Emulator, EmulatorHandle};

use crate::common;

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
    fn random_bodies_never_get_a_server_error(body in prop::collection::vec(any::<u8>(), 0..2048), path in 0usize..14) {
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
            format!("{}/oauth2/v2.0/devicecode", emulator.authority()),
            format!("{}/oauth2/v2.0/authorize", emulator.authority()),
            format!("{}/admin/device/approve", emulator.url()),
            format!("{}/admin/device/deny", emulator.url()),
            format!("{}/admin/revoke", emulator.url()),
            format!("{}/admin/federated-token", emulator.url()),
            format!("{}/admin/faults", emulator.url()),
            format!("{}/fabrikamb2c.onmicrosoft.com/B2C_1_signupsignin/oauth2/v2.0/token", emulator.url()),
            format!("{}/tfp/x{tenantish}/p/oauth2/v2.0/token", emulator.url()),
        ];
        let status = runtime.block_on(async {
            common::http().post(&paths[path]).body(body.clone()).send().await.map(|r| r.status().as_u16())
        });
        let status = status.unwrap();
        prop_assert!(status < 500, "{} answered {}", paths[path], status);
    }

    /// Well-formed forms with every grant, known and unknown clients and random values
    /// reach deeper than random bytes do.
    #[test]
    fn random_token_forms_never_get_a_server_error(
        grant in prop::sample::select(vec![
            "client_credentials", "authorization_code", "refresh_token", "user_fic",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
        ]),
        fields in prop::collection::vec((
            prop::sample::select(vec![
                "client_id", "client_secret", "client_assertion", "client_assertion_type",
                "scope", "code", "code_verifier", "redirect_uri", "refresh_token", "device_code",
                "assertion", "requested_token_use", "user_federated_identity_credential",
                "user_id", "username", "fmi_path",
            ]),
            prop_oneof![
                "[ -~]{0,40}",
                Just("https://graph.microsoft.com/.default".to_owned()),
                Just("urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
                Just("on_behalf_of".to_owned()),
                Just("eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.c2ln".to_owned()),
            ],
        ), 0..8),
        client in prop::sample::select(vec![0usize, 1, 2, 3, 4, 5, 6]),
    ) {
        let (runtime, emulator) = shared();
        let mut form: Vec<(String, String)> = vec![("grant_type".into(), grant.into())];
        if let Some(app) = emulator.config().apps.get(client) {
            form.push(("client_id".into(), app.client_id.clone()));
        }
        form.extend(fields.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let url = format!("{}/oauth2/v2.0/token", emulator.authority());
        let status = runtime.block_on(async {
            common::http().post(&url).form(&form).send().await.map(|r| r.status().as_u16())
        });
        let status = status.unwrap();
        prop_assert!(status < 500, "{form:?} answered {status}");
    }
}
