//! Envelope encryption costs: sealing and opening values in memory, then
//! through the store on SQLite (create a provider credential, open it for an
//! outbound call), and the throughput of a DEK rotation's re-encryption.
//!
//! cargo run --release -p tollgate-bench --bin vault-bench -- [VALUES]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tollgate_core::UnixMicros;
use tollgate_core::envelope::{self, Aad, DataKey, KeyId, LocalKek};
use tollgate_core::token::{HashKey, TokenHasher};
use tollgate_store::{
    BootstrapInput, Ctx, NewProviderCredential, PoolSettings, SecretFields, Store, Vault,
};
use zeroize::Zeroizing;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000);

    // In memory.
    let key = DataKey::new(KeyId([1; 16]), Zeroizing::new([2; 32]));
    for size in [64usize, 4096] {
        let plain = vec![7u8; size];
        let aad = Aad::org("org_bench", "transcripts", "rec_01", "text");
        let rounds = 200_000 * 64 / size.max(64);
        let t = Instant::now();
        let mut sealed = Vec::new();
        for i in 0..rounds {
            let mut nonce = [0u8; 12];
            nonce[..8].copy_from_slice(&(i as u64).to_le_bytes());
            sealed = envelope::seal(&key, &aad, nonce, &plain);
        }
        let seal = t.elapsed();
        let t = Instant::now();
        for _ in 0..rounds {
            let _ = envelope::open(&key, &aad, &sealed).expect("opens");
        }
        let open = t.elapsed();
        println!(
            "memory, {size} B values: seal {:.2} us, open {:.2} us ({} rounds)",
            seal.as_secs_f64() * 1e6 / rounds as f64,
            open.as_secs_f64() * 1e6 / rounds as f64,
            rounds
        );
    }

    // Through the store (SQLite, WAL, synchronous=FULL as the server runs it).
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    tollgate_store::migrate(&url, None).await.expect("migrate");
    let hasher = Arc::new(TokenHasher::new(vec![HashKey::new([9; 32])]).expect("a key"));
    let kek = Arc::new(LocalKek::new(Zeroizing::new([3; 32])));
    let store = Store::open(&url, &PoolSettings::default(), hasher)
        .await
        .expect("open")
        .with_vault(Vault::new(kek, Vec::new()));
    let now = UnixMicros(1_795_000_000_000_000);
    let token = store.create_bootstrap_token(now, 900).await.expect("token");
    let ctx = Ctx {
        now,
        request: Default::default(),
    };
    let org = store
        .redeem_bootstrap(
            &token.plaintext,
            BootstrapInput {
                org_name: "Bench".into(),
                owner_name: "B".into(),
                owner_email: "b@bench.example.com".into(),
            },
            &ctx,
        )
        .await
        .expect("org");
    let actor = store
        .authenticate_api_key(&org.token.plaintext, now)
        .await
        .expect("actor");
    let scope = store.scope(&actor);
    let t = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let c = scope
            .create_provider_credential(
                NewProviderCredential {
                    kind: "retell".into(),
                    label: format!("c{i}"),
                    secret: SecretFields::new(BTreeMap::from([(
                        "api_key".to_owned(),
                        Zeroizing::new(format!("key_{i:08}_0123456789abcdef0123456789")),
                    )])),
                    main_field: "api_key".into(),
                    policy: serde_json::json!({"retention": "zero"}),
                },
                &Ctx {
                    now: UnixMicros(now.0 + i as i64 * 1_000),
                    request: Default::default(),
                },
            )
            .await
            .expect("create");
        ids.push(c.id);
    }
    let created = t.elapsed();
    let t = Instant::now();
    for id in &ids {
        scope
            .with_provider_secret(id, async |_, s: &SecretFields| {
                s.get("api_key").map(str::len)
            })
            .await
            .expect("opens");
    }
    let opened = t.elapsed();
    println!(
        "store (sqlite): create credential {:.0} us each (one transaction with its audit event), \
         with_provider_secret {:.0} us each ({n} credentials)",
        created.as_secs_f64() * 1e6 / n as f64,
        opened.as_secs_f64() * 1e6 / n as f64,
    );

    let org_id = actor.org_id().clone();
    store.start_dek_rotation(&org_id, now).await.expect("start");
    let t = Instant::now();
    let done = store
        .run_dek_rotation(&org_id, 500, None)
        .await
        .expect("rotation");
    let took = t.elapsed();
    assert!(done.finished);
    println!(
        "DEK rotation (sqlite, batches of 500): {} values re-encrypted in {:.2} s, {:.0} values/s",
        done.resealed,
        took.as_secs_f64(),
        done.resealed as f64 / took.as_secs_f64()
    );
}
