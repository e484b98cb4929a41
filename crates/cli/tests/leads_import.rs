//! `tollgate leads import`: good rows are imported, bad rows are reported
//! by line number with their reasons, and nothing else is written.

use std::io::Write;
use std::process::Command;

use tollgate_gate::{DialChannel, Purpose, VoiceType};
use tollgate_store::{BootstrapInput, CampaignSpec, Ctx};

const KEK: &str = "dGVzdC1rZWstdGVzdC1rZWstdGVzdC1rZWstdGVzdC0=";
const TOKEN_HASH: &str = "dGVzdC10b2tlbi1oYXNoLXRlc3QtdG9rZW4taGFzaDE=";
const AUDIT_SIGNING: &str = "dGVzdC1hdWRpdC1zaWduaW5nLWtleS10ZXN0LWtleTE=";

fn vars(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut v = vec![
        ("TOLLGATE_DATA_DIR".to_string(), dir.display().to_string()),
        ("TOLLGATE_SECURITY_KEK".to_string(), KEK.to_string()),
        (
            "TOLLGATE_SECURITY_TOKEN_HASH_KEYS".to_string(),
            TOKEN_HASH.to_string(),
        ),
        (
            "TOLLGATE_SECURITY_AUDIT_SIGNING_KEY".to_string(),
            AUDIT_SIGNING.to_string(),
        ),
        ("TOLLGATE_LOG_LEVEL".to_string(), "error".to_string()),
    ];
    if std::env::var("TOLLGATE_TEST_BACKEND").as_deref() == Ok("postgres") {
        v.push((
            "TOLLGATE_DATABASE_URL".into(),
            std::env::var("TOLLGATE_TEST_DATABASE_URL").unwrap(),
        ));
        v.push((
            "TOLLGATE_DATABASE_MIGRATION_URL".into(),
            std::env::var("TOLLGATE_TEST_MIGRATION_URL").unwrap(),
        ));
    }
    v
}

#[tokio::test]
async fn rows_are_imported_or_rejected_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = tollgate_server::config::load(None, &vars(dir.path()))
        .unwrap()
        .config;
    let store = tollgate_server::open_store(&config, true)
        .await
        .unwrap()
        .store;
    let now = tollgate_server::app::now();
    let ctx = Ctx {
        now,
        request: Default::default(),
    };
    let token = store.create_bootstrap_token(now, 900).await.unwrap();
    let done = store
        .redeem_bootstrap(
            &token.plaintext,
            BootstrapInput {
                org_name: "Importer".into(),
                owner_name: "Owner".into(),
                owner_email: format!("o-{}@import.example.com", &token.plaintext[8..16]),
            },
            &ctx,
        )
        .await
        .unwrap();
    let actor = store
        .authenticate_api_key(&done.token.plaintext, now)
        .await
        .unwrap();
    let scope = store.scope(&actor);
    let campaign = scope
        .create_campaign(
            CampaignSpec {
                name: "import".into(),
                purpose: Purpose::Telemarketing,
                channel: DialChannel::Voice,
                voice: VoiceType::Live,
                windows: None,
                max_attempts_per_lead: None,
                caps: vec![],
            },
            &ctx,
        )
        .await
        .unwrap();
    let org = done.org.id.to_string();

    let csv_path = dir.path().join("leads.csv");
    let mut f = std::fs::File::create(&csv_path).unwrap();
    // Line 1 is the header; line numbers below are the file's.
    f.write_all(b"phone,state,zip,name,consent_type,consent_timestamp,consent_source,consent_captured_by,consent_text_version,plan\n").unwrap();
    f.write_all(b"(305) 555-0100,FL,33101,Ana,prior_express_written,2026-01-02T03:04:05Z,form-1,web,v1,gold\n").unwrap(); // 2 ok
    f.write_all(b"305-555-0101,,,,,,,,,\n").unwrap(); // 3 ok, ineligible (no consent)
    f.write_all(b"+44 20 7946 0958,,,,,,,,,\n").unwrap(); // 4 not NANP
    f.write_all(b"305-555-0102,XX,00000,,,,,,,\n").unwrap(); // 5 bad state and ZIP
    f.write_all(b"305-555-0103,FL,33101,Jos\xe9,,,,,,\n")
        .unwrap(); // 6 Latin-1 name
    f.write_all(b"305-555-0104,FL\n").unwrap(); // 7 missing columns
    f.write_all(b"\"305 555 0105\",FL,,\"two\nlines\",,,,,,\n")
        .unwrap(); // 8-9 ok (quoted newline)
    f.write_all(b"305-555-0106,FL,33101,,bogus,,,,,\n").unwrap(); // 10 unknown consent type
    drop(f);

    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["leads", "import"])
        .arg(&csv_path)
        .args(["--org", &org, "--campaign", campaign.id.as_str()])
        .env_clear()
        .envs(vars(dir.path()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rejected: Vec<(u64, String)> = lines
        .iter()
        .filter(|l| l["status"] == "rejected")
        .map(|l| (l["line"].as_u64().unwrap(), l["reasons"].to_string()))
        .collect();
    let lines_rejected: Vec<u64> = rejected.iter().map(|r| r.0).collect();
    assert_eq!(lines_rejected, [4, 5, 6, 7, 10], "{stdout}");
    assert!(rejected[0].1.contains("phone_not_nanp"));
    assert!(rejected[1].1.contains("`state`") && rejected[1].1.contains("`zip`"));
    assert!(rejected[2].1.contains("UTF-8"));
    assert!(rejected[3].1.contains("expected 10 columns, found 2"));
    assert!(rejected[4].1.contains("consent.type"));
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(
        (
            summary["imported"].as_u64(),
            summary["ineligible"].as_u64(),
            summary["rejected"].as_u64()
        ),
        (Some(3), Some(2), Some(5))
    );

    let mut leads = scope.list_leads(None, 100).await.unwrap();
    // Ids made in one millisecond are not ordered among themselves.
    leads.sort_by(|a, b| a.phone.cmp(&b.phone));
    let phones: Vec<&str> = leads.iter().map(|l| l.phone.as_str()).collect();
    assert_eq!(phones, ["+13055550100", "+13055550101", "+13055550105"]);
    assert_eq!(leads[0].fields["plan"], "gold");
    assert!(leads[0].eligible && !leads[1].eligible);
    assert_eq!(leads[1].ineligible_reasons, ["consent_none"]);
    assert_eq!(leads[0].campaign_id.as_ref(), Some(&campaign.id));
    // One audit event per chunk, with the count and no numbers.
    let filter = tollgate_store::AuditFilter {
        action: Some("leads.imported".into()),
        ..Default::default()
    };
    let page = scope.audit_events(None, 100, &filter).await.unwrap();
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.data[0].event.details["created"], 3);
    assert!(
        !serde_json::to_string(&page.data[0].event)
            .unwrap()
            .contains("5550100")
    );
}
