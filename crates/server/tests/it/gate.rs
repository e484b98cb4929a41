//! The dial gate through HTTP: intake, suppression and opt-outs, pauses,
//! the DNC acknowledgment, caps counted from recorded attempts, and the
//! audit record of every decision.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestOrg, TestServer};

fn written(source: &str) -> Value {
    json!({"type": "prior_express_written", "timestamp": "2026-01-05T12:00:00Z",
           "source": source, "text_version": "tcpa-v3", "captured_by": "web form", "ip": "192.0.2.7"})
}

fn codes(check: &Value) -> Vec<String> {
    check["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no reasons: {check}"))
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn campaign(server: &TestServer, org: &TestOrg, body: Value) -> String {
    let (s, c) = server
        .call(&org.key, Method::POST, "/v1/campaigns", Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_owned()
}

async fn dial(server: &TestServer, org: &TestOrg, body: Value) -> Value {
    let (s, c) = server
        .call(&org.key, Method::POST, "/v1/dial-checks", Some(body))
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    c
}

/// Creates one lead with written consent captured by `source`; its body.
async fn new_lead(server: &TestServer, org: &TestOrg, phone: &str, source: &str) -> Value {
    let (_, lead) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/leads",
            Some(json!({"phone": phone, "consent": written(source)})),
        )
        .await;
    lead
}

async fn acknowledge_no_dnc(server: &TestServer, org: &TestOrg) {
    let (s, v) = server
        .call(
            &org.key,
            Method::PATCH,
            "/v1/gate-settings",
            Some(json!({"dnc_provider_absence_acknowledged": true,
                        "dnc_statement": "We scrub against the national registry in our dialer until the DNC component is configured."})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// An instant inside calling hours for a voice call to `phone`'s area in
/// campaign `cmp`: now, or the next one the gate names. It asks with a
/// lead of its own, whose attempt counts for no other number or lead.
async fn inside_hours(server: &TestServer, org: &TestOrg, cmp: &str, phone: &str) -> String {
    let probe = new_lead(server, org, phone, "form-probe").await;
    let c = dial(
        server,
        org,
        json!({"lead_id": probe["id"], "campaign_id": cmp, "channel": "voice"}),
    )
    .await;
    match c["next_allowed"].as_str() {
        Some(t) => t.to_owned(),
        None => {
            assert_eq!(c["allowed"], true, "{c}");
            c["at"].as_str().unwrap().to_owned()
        }
    }
}

#[tokio::test]
async fn leads_are_normalized_and_judged_at_intake() {
    let server = TestServer::start().await;
    let org = server.new_org("Intake").await;
    let (s, lead) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/leads",
            Some(
                json!({"phone": "1 (305) 555-0100", "state": "fl", "zip": "33101",
                        "fields": {"plan": "gold"}, "consent": written("https://example.test/f")}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{lead}");
    assert_eq!(lead["phone"], "+13055550100");
    assert_eq!(lead["state"], "FL");
    assert_eq!(lead["eligible"], true);

    // No usable evidence: created, visible, ineligible with every reason.
    let (s, batch) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/leads",
            Some(json!({"leads": [
                {"phone": "305-555-0101"},
                {"phone": "305-555-0102", "consent": {"type": "prior_express_written", "timestamp": "2026-01-05T12:00:00Z"}},
            ]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["data"][0]["eligible"], false);
    assert_eq!(
        batch["data"][0]["ineligible_reasons"],
        json!(["consent_none"])
    );
    assert_eq!(
        batch["data"][1]["ineligible_reasons"],
        json!([
            "consent_source_missing",
            "consent_captured_by_missing",
            "consent_text_missing"
        ])
    );

    // Malformed input is refused, with every problem, and nothing is written.
    let before = server
        .call(&org.key, Method::GET, "/v1/leads", None)
        .await
        .1["data"]
        .as_array()
        .unwrap()
        .len();
    let (s, p) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/leads",
            Some(json!({"leads": [
                {"phone": "305-555-0103"},
                {"phone": "+44 20 7946 0958", "state": "XX", "zip": "00000"},
            ]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let detail = p["detail"].as_str().unwrap();
    for part in ["leads[1]", "phone_not_nanp", "`state`", "`zip`"] {
        assert!(detail.contains(part), "{detail}");
    }
    let after = server
        .call(&org.key, Method::GET, "/v1/leads", None)
        .await
        .1["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_dial_check_lists_reasons_records_attempts_and_audits() {
    let server = TestServer::start().await;
    let org = server.new_org("Dial").await;
    let cmp = campaign(
        &server,
        &org,
        json!({"name": "renewals", "purpose": "telemarketing", "channel": "voice", "voice": "ai"}),
    )
    .await;
    let (_, lead) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/leads",
            Some(
                json!({"phone": "305 555 0188", "campaign_id": cmp, "consent": written("form-9")}),
            ),
        )
        .await;
    let lead_id = lead["id"].as_str().unwrap().to_owned();
    let ask = json!({"lead_id": lead_id, "campaign_id": cmp, "channel": "voice"});

    // No DNC provider and no acknowledgment: denied, whatever the hour.
    let first = dial(&server, &org, ask.clone()).await;
    assert_eq!(first["allowed"], false);
    assert!(
        codes(&first).contains(&"dnc_registry_stale".to_owned()),
        "{first}"
    );
    assert_eq!(first["candidate_states"], json!(["FL"]));
    assert_eq!(first["candidate_zones"], json!(["America/New_York"]));
    assert!(first["rules_version"].as_str().unwrap().len() >= 12);

    acknowledge_no_dnc(&server, &org).await;
    // Find an allowed instant: now, or the next one the gate names.
    let now = dial(&server, &org, ask.clone()).await;
    let at = if now["allowed"] == true {
        now["at"].as_str().unwrap().to_owned()
    } else {
        assert!(
            codes(&now)
                .iter()
                .all(|c| c == "outside_hours" || c == "restricted_day"),
            "{now}"
        );
        now["next_allowed"]
            .as_str()
            .expect("a next instant")
            .to_owned()
    };
    let at_ask =
        json!({"lead_id": lead_id, "campaign_id": cmp, "channel": "voice", "planned_at": at});
    // An allowed "now" already recorded one attempt.
    let already = usize::from(now["allowed"] == true);
    for i in already..3 {
        let c = dial(&server, &org, at_ask.clone()).await;
        assert_eq!(c["allowed"], true, "attempt {i}: {c}");
        assert_eq!(c["reasons"], json!([]));
    }
    // Florida: at most three attempts per 24 hours (FL-CAP).
    let fourth = dial(&server, &org, at_ask.clone()).await;
    assert_eq!(fourth["allowed"], false);
    assert_eq!(codes(&fourth), ["frequency_cap"], "{fourth}");
    assert_eq!(fourth["reasons"][0]["rule_id"], "FL-CAP");
    assert!(fourth["next_allowed"].is_string());

    // The decision can be fetched later, exactly as returned.
    let (s, again) = server
        .call(
            &org.key,
            Method::GET,
            &format!("/v1/dial-checks/{}", fourth["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again, fourth);

    // Every decision is audited, with the masked number only.
    let events = server.audit_events(&org).await;
    let decisions: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "gate.decision")
        .collect();
    assert_eq!(decisions.len(), 6 - already);
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains("3055550188"), "raw number in the audit log");
    assert!(text.contains("+1305***0188"));
}

#[tokio::test]
async fn suppression_and_opt_outs_take_effect_at_once() {
    let server = TestServer::start().await;
    let org = server.new_org("Stop").await;
    acknowledge_no_dnc(&server, &org).await;
    let cmp = campaign(
        &server,
        &org,
        json!({"name": "texts", "purpose": "informational", "channel": "text", "voice": "live"}),
    )
    .await;
    let lead = new_lead(&server, &org, "212 555 0199", "sms keyword").await;
    let lead_id = lead["id"].as_str().unwrap().to_owned();

    let (s, not) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/opt-outs",
            Some(json!({"lead_id": lead_id, "text": "sounds good, call me tomorrow"})),
        )
        .await;
    assert_eq!((s, &not["opted_out"]), (StatusCode::OK, &json!(false)));
    let (s, out) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/opt-outs",
            Some(json!({"lead_id": lead_id, "text": "Pls STOPP texting me"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["opted_out"], true);
    assert_eq!(out["matched"], "stop");
    let sup_id = out["suppression"]["id"].as_str().unwrap().to_owned();
    assert!(!serde_json::to_string(&out).unwrap().contains("5550199"));

    let c = dial(
        &server,
        &org,
        json!({"lead_id": lead_id, "campaign_id": cmp, "channel": "text"}),
    )
    .await;
    assert!(codes(&c).contains(&"suppressed".to_owned()), "{c}");

    // The internal DNC list is its own reason.
    let (s, _) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/suppressions",
            Some(json!({"number": "+12125550199", "list": "internal_dnc"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let c = dial(
        &server,
        &org,
        json!({"number": "212.555.0199", "campaign_id": cmp, "channel": "text"}),
    )
    .await;
    let got = codes(&c);
    for code in ["no_consent", "suppressed", "dnc_internal"] {
        assert!(got.contains(&code.to_owned()), "{c}");
    }

    // Removal: owners only, with a reason; the entry stays, marked removed.
    let member = server
        .invite(&org, &crate::harness::unique_email("m"), "admin")
        .await;
    let admin_key = server.key_for_member(&org, &member).await;
    let path = format!("/v1/suppressions/{sup_id}");
    let (s, _) = server
        .call(
            &admin_key,
            Method::DELETE,
            &path,
            Some(json!({"reason": "asked to"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = server
        .call(&org.key, Method::DELETE, &path, Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, removed) = server
        .call(
            &org.key,
            Method::DELETE,
            &path,
            Some(json!({"reason": "re-consented in writing"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{removed}");
    assert!(removed["removed_at"].is_string());
    let events = server.audit_events(&org).await;
    assert!(events.iter().any(|e| e["action"] == "suppression.removed"
        && e["details"]["reason"] == "re-consented in writing"));
    assert!(events.iter().any(|e| e["action"] == "opt_out.recorded"));
}

#[tokio::test]
async fn pause_switches_deny_everything_and_need_an_admin() {
    let server = TestServer::start().await;
    let org = server.new_org("Pause").await;
    acknowledge_no_dnc(&server, &org).await;
    let cmp = campaign(
        &server,
        &org,
        json!({"name": "p", "purpose": "informational", "channel": "voice", "voice": "live",
               "windows": {"mon": ["09:00", "17:00"]}, "max_attempts_per_lead": 2,
               "caps": [{"max_attempts": 1, "window_hours": 48}]}),
    )
    .await;
    let member = server
        .invite(&org, &crate::harness::unique_email("m"), "member")
        .await;
    let member_key = server.key_for_member(&org, &member).await;
    let path = format!("/v1/campaigns/{cmp}");
    let (s, _) = server
        .call(
            &member_key,
            Method::PATCH,
            &path,
            Some(json!({"paused": true})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, c) = server
        .call(
            &org.key,
            Method::PATCH,
            &path,
            Some(json!({"paused": true})),
        )
        .await;
    assert_eq!((s, &c["paused"]), (StatusCode::OK, &json!(true)));
    assert_eq!(c["windows"], json!({"mon": ["09:00", "17:00"]}));
    let (s, _) = server
        .call(
            &org.key,
            Method::PATCH,
            "/v1/gate-settings",
            Some(json!({"paused": true, "paused_reason": "incident"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let c = dial(
        &server,
        &org,
        json!({"number": "(415) 555-0123", "campaign_id": cmp, "channel": "voice"}),
    )
    .await;
    let got = codes(&c);
    assert!(
        got.contains(&"org_paused".to_owned()) && got.contains(&"campaign_paused".to_owned()),
        "{c}"
    );
    assert_eq!(c["next_allowed"], Value::Null);
    let events = server.audit_events(&org).await;
    assert!(events.iter().any(|e| e["action"] == "campaign.paused"));
    assert!(events.iter().any(|e| e["action"] == "gate.paused"));
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "gate.dnc_absence_acknowledged")
    );
}

#[tokio::test]
async fn concurrent_checks_count_attempts_exactly() {
    let server = TestServer::start().await;
    let org = server.new_org("Burst").await;
    acknowledge_no_dnc(&server, &org).await;
    let cmp = campaign(
        &server,
        &org,
        json!({"name": "burst", "purpose": "telemarketing", "channel": "voice", "voice": "live"}),
    )
    .await;
    let lead = new_lead(&server, &org, "305 555 0177", "form-b").await;
    let lead_id = lead["id"].as_str().unwrap().to_owned();
    let at = inside_hours(&server, &org, &cmp, "305 555 0100").await;
    let body =
        json!({"lead_id": lead_id, "campaign_id": cmp, "channel": "voice", "planned_at": at});
    let calls = (0..12).map(|_| {
        server.call(
            &org.key,
            Method::POST,
            "/v1/dial-checks",
            Some(body.clone()),
        )
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut allowed = 0;
    for (s, c) in &answers {
        assert_eq!(*s, StatusCode::OK, "{c}");
        if c["allowed"] == true {
            allowed += 1;
        } else {
            assert_eq!(codes(c), ["frequency_cap"], "{c}");
        }
    }
    // FL-CAP: three attempts per number per 24 hours, however they race.
    assert_eq!(allowed, 3);
}

#[tokio::test]
async fn a_campaigns_attempts_per_lead_are_counted_exactly_and_only_where_capped() {
    let server = TestServer::start().await;
    let org = server.new_org("PerLead").await;
    acknowledge_no_dnc(&server, &org).await;
    let capped = campaign(
        &server,
        &org,
        json!({"name": "capped", "purpose": "telemarketing", "channel": "voice", "voice": "live",
               "max_attempts_per_lead": 2}),
    )
    .await;
    let open = campaign(
        &server,
        &org,
        json!({"name": "open", "purpose": "telemarketing", "channel": "voice", "voice": "live"}),
    )
    .await;
    // New York keeps no per-number cap of its own, so only the campaign's
    // per-lead limit can refuse these.
    let lead = new_lead(&server, &org, "212 555 0177", "form-l").await;
    let lead_id = lead["id"].as_str().unwrap().to_owned();
    let at = inside_hours(&server, &org, &open, "212 555 0100").await;
    let body = |cmp: &str| json!({"lead_id": lead_id, "campaign_id": cmp, "channel": "voice", "planned_at": at});
    let calls = (0..6).map(|_| {
        server.call(
            &org.key,
            Method::POST,
            "/v1/dial-checks",
            Some(body(&capped)),
        )
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut allowed = 0;
    for (s, c) in &answers {
        assert_eq!(*s, StatusCode::OK, "{c}");
        if c["allowed"] == true {
            allowed += 1;
        } else {
            assert_eq!(codes(c), ["max_attempts"], "{c}");
            assert!(
                c["reasons"][0]["detail"]
                    .as_str()
                    .unwrap()
                    .contains("2 made"),
                "{c}"
            );
        }
    }
    assert_eq!(allowed, 2, "{answers:?}");
    // The same lead in a campaign without a per-lead limit: its earlier
    // attempts (in another campaign) refuse nothing.
    for _ in 0..3 {
        let c = dial(&server, &org, body(&open)).await;
        assert_eq!(c["allowed"], true, "{c}");
    }
    let c = dial(&server, &org, body(&capped)).await;
    assert_eq!(codes(&c), ["max_attempts"], "{c}");
}

#[tokio::test]
async fn a_failing_gate_denies_internal_error_and_records_it() {
    let server = TestServer::start().await;
    let org = server.new_org("Broken").await;
    acknowledge_no_dnc(&server, &org).await;
    let cmp = campaign(
        &server,
        &org,
        json!({"name": "b", "purpose": "informational", "channel": "voice", "voice": "live"}),
    )
    .await;
    // A store handle without the number-hash key: every fact lookup by
    // number fails, as a broken database would.
    let hasher =
        tollgate_core::token::TokenHasher::new(vec![tollgate_core::token::HashKey::new([7; 32])])
            .unwrap();
    let broken = tollgate_store::Store::open(
        &server.state.config.database_url(),
        &Default::default(),
        std::sync::Arc::new(hasher),
    )
    .await
    .unwrap();
    let actor = server
        .store()
        .authenticate_api_key(&org.key, server.state.now())
        .await
        .unwrap();
    let ctx = tollgate_store::Ctx {
        now: server.state.now(),
        request: Default::default(),
    };
    let req = tollgate_store::DialRequest {
        lead_id: None,
        lead: None,
        number: Some(tollgate_gate::parse_nanp("212 555 0100").unwrap()),
        campaign_id: tollgate_core::id::CampaignId::parse(&cmp).unwrap(),
        channel: tollgate_gate::DialChannel::Voice,
        at: jiff::Timestamp::now(),
        safety_margin_minutes: 0,
    };
    let dnc = tollgate_store::DncAnswer::not_configured();
    let rec = broken
        .scope(&actor)
        .dial_check(&req, &dnc, &ctx)
        .await
        .unwrap();
    assert!(!rec.allowed);
    assert_eq!(rec.reasons.len(), 1);
    assert_eq!(rec.reasons[0].code, "internal_error");
    let id = rec.id.clone().expect("the denial is recorded");
    // The same through the group-commit path.
    let job = tollgate_store::DialJob {
        actor: actor.clone(),
        req: req.clone(),
        dnc,
        ctx,
    };
    let group = broken.dial_checks(vec![job.clone(), job]).await;
    for r in group {
        assert_eq!(r.unwrap().reasons[0].code, "internal_error");
    }
    let (s, fetched) = server
        .call(
            &org.key,
            Method::GET,
            &format!("/v1/dial-checks/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(fetched["reasons"][0]["code"], "internal_error");
    let events = server.audit_events(&org).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["action"] == "gate.decision"
                && e["details"]["reasons"] == json!(["internal_error"]))
            .count(),
        3
    );
}

/// A node caches campaigns and gate settings for at most `GATE_CACHE_TTL`
/// (docs/deploy.md, "Revocation window"): a pause through this node denies
/// its very next check, another node sharing the database denies within
/// the window.
#[tokio::test]
async fn a_pause_reaches_this_node_at_once_and_another_within_the_gate_cache_window() {
    let server = TestServer::start().await;
    let org = server.new_org("GateWindow").await;
    acknowledge_no_dnc(&server, &org).await;
    let cmp = campaign(
        &server,
        &org,
        json!({"name": "w", "purpose": "informational", "channel": "voice", "voice": "live"}),
    )
    .await;
    let body = json!({"number": "(415) 555-0123", "campaign_id": cmp, "channel": "voice"});
    let has = |c: &Value, code: &str| codes(c).iter().any(|x| x == code);
    // Both nodes have the campaign cached, unpaused.
    assert!(!has(
        &dial(&server, &org, body.clone()).await,
        "campaign_paused"
    ));
    let other = server
        .store()
        .with_role(&server.state.config.database_url())
        .await
        .unwrap()
        .with_gate_cache(tollgate_store::GATE_CACHE_TTL);
    let actor = server
        .store()
        .authenticate_api_key(&org.key, server.state.now())
        .await
        .unwrap();
    let job = || tollgate_store::DialJob {
        actor: actor.clone(),
        req: tollgate_store::DialRequest {
            lead_id: None,
            lead: None,
            number: Some(tollgate_gate::parse_nanp("415 555 0123").unwrap()),
            campaign_id: tollgate_core::id::CampaignId::parse(&cmp).unwrap(),
            channel: tollgate_gate::DialChannel::Voice,
            at: jiff::Timestamp::now(),
            safety_margin_minutes: 0,
        },
        dnc: tollgate_store::DncAnswer::not_configured(),
        ctx: tollgate_store::Ctx {
            now: server.state.now(),
            request: Default::default(),
        },
    };
    let on_other = || async {
        let check = other.dial_checks(vec![job()]).await.remove(0).unwrap();
        serde_json::from_str::<Value>(&check.json).unwrap()
    };
    assert!(!has(&on_other().await, "campaign_paused"));

    for (path, patch, code) in [
        (
            format!("/v1/campaigns/{cmp}"),
            json!({"paused": true}),
            "campaign_paused",
        ),
        (
            "/v1/gate-settings".to_owned(),
            json!({"paused": true, "paused_reason": "incident"}),
            "org_paused",
        ),
    ] {
        let (s, v) = server
            .call(&org.key, Method::PATCH, &path, Some(patch))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let paused_at = std::time::Instant::now();
        let c = dial(&server, &org, body.clone()).await;
        assert!(has(&c, code), "the pausing node denies at once: {c}");
        loop {
            if has(&on_other().await, code) {
                break;
            }
            // (A little slack for a loaded machine between the cache's
            // check and this one.)
            assert!(
                paused_at.elapsed()
                    < tollgate_store::GATE_CACHE_TTL + std::time::Duration::from_millis(250),
                "another node still allows after the window"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// A voice check of `lead` in campaign `cmp` at `at`, without a DNC
/// provider, for the store's group path.
fn lead_job(
    server: &TestServer,
    actor: &tollgate_store::Actor,
    cmp: &str,
    lead: &Value,
    at: jiff::Timestamp,
) -> tollgate_store::DialJob {
    tollgate_store::DialJob {
        actor: actor.clone(),
        req: tollgate_store::DialRequest {
            lead_id: Some(tollgate_core::id::LeadId::parse(lead["id"].as_str().unwrap()).unwrap()),
            lead: None,
            number: None,
            campaign_id: tollgate_core::id::CampaignId::parse(cmp).unwrap(),
            channel: tollgate_gate::DialChannel::Voice,
            at,
            safety_margin_minutes: 0,
        },
        dnc: tollgate_store::DncAnswer::not_configured(),
        ctx: tollgate_store::Ctx {
            now: server.state.now(),
            request: Default::default(),
        },
    }
}

/// A lead handed to the check already read (the handler reads it for the
/// DNC lookup) is decided on only when it is the lead the request names,
/// read for the same organization; any other is ignored and the named lead
/// is read.
#[tokio::test]
async fn a_lead_read_beforehand_counts_only_for_the_lead_it_is() {
    let server = TestServer::start().await;
    let org = server.new_org("ReadOnce").await;
    acknowledge_no_dnc(&server, &org).await;
    let cmp = campaign(
        &server,
        &org,
        json!({"name": "once", "purpose": "informational", "channel": "voice", "voice": "ai"}),
    )
    .await;
    let consented = new_lead(&server, &org, "212 555 0150", "form-once").await;
    let (s, bare) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/leads",
            Some(json!({"phone": "212 555 0151"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{bare}");
    let actor = server
        .store()
        .authenticate_api_key(&org.key, server.state.now())
        .await
        .unwrap();
    let id = |l: &Value| tollgate_core::id::LeadId::parse(l["id"].as_str().unwrap()).unwrap();
    let read = |l: &Value| {
        let (store, actor, id) = (server.store(), actor.clone(), id(l));
        async move { std::sync::Arc::new(store.scope(&actor).get_lead(&id).await.unwrap()) }
    };
    let (consented_row, bare_row) = (read(&consented).await, read(&bare).await);
    let job = |named: &Value, carried: &std::sync::Arc<tollgate_store::Lead>| {
        let mut job = lead_job(&server, &actor, &cmp, named, jiff::Timestamp::now());
        job.req.lead = Some(carried.clone());
        job
    };
    let group = server
        .store()
        .dial_checks(vec![
            job(&consented, &bare_row),
            job(&bare, &consented_row),
            job(&bare, &bare_row),
        ])
        .await;
    let decided: Vec<Value> = group
        .into_iter()
        .map(|r| serde_json::from_str(&r.unwrap().json).unwrap())
        .collect();
    let no_consent = |d: &Value| codes(d).contains(&"no_consent".to_owned());
    // The consented lead is judged as itself, whatever row was carried.
    assert!(!no_consent(&decided[0]), "{}", decided[0]);
    assert_eq!(decided[0]["lead_id"], consented["id"]);
    assert!(no_consent(&decided[1]), "{}", decided[1]);
    assert!(no_consent(&decided[2]), "{}", decided[2]);
    assert_eq!(decided[2]["lead_id"], bare["id"]);

    // Another organization's lead, handed over with its own id: never used
    // for this organization's check, which does not have that lead (404).
    let other = server.new_org("ReadOnceOther").await;
    let theirs = new_lead(&server, &other, "212 555 0152", "form-other").await;
    let their_actor = server
        .store()
        .authenticate_api_key(&other.key, server.state.now())
        .await
        .unwrap();
    let their_row = std::sync::Arc::new(
        server
            .store()
            .scope(&their_actor)
            .get_lead(&id(&theirs))
            .await
            .unwrap(),
    );
    let group = server
        .store()
        .dial_checks(vec![job(&theirs, &their_row)])
        .await;
    assert!(
        matches!(group[..], [Err(tollgate_store::StoreError::NotFound)]),
        "{group:?}"
    );
}

/// Runs `sql` on the test database as its owner (the file itself on
/// SQLite), with `org` bound for PostgreSQL's row-level security; the
/// first column of the first row, when it is a number.
async fn as_owner(server: &TestServer, org: &str, sql: &str) -> Option<i64> {
    use sqlx::{Connection, Row};
    if crate::harness::backend() == "postgres" {
        let url = std::env::var("TOLLGATE_TEST_MIGRATION_URL").unwrap();
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query("SELECT set_config('app.org_id', $1, false)")
            .bind(org)
            .execute(&mut conn)
            .await
            .unwrap();
        let rows = sqlx::raw_sql(sql).fetch_all(&mut conn).await.unwrap();
        rows.first().and_then(|r| r.try_get::<i64, _>(0).ok())
    } else {
        let url = server.state.config.database_url();
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let rows = sqlx::raw_sql(sql).fetch_all(&mut conn).await.unwrap();
        rows.first().and_then(|r| r.try_get::<i64, _>(0).ok())
    }
}

/// Makes every insert into `table` of `org`'s rows for which `when` (SQL
/// over `NEW`) holds fail, on either backend; returns the statement that
/// undoes it.
async fn failing_inserts(server: &TestServer, org: &TestOrg, table: &str, when: &str) -> String {
    let fail = format!("fail_{table}_{}", org.id.to_lowercase());
    let id = &org.id;
    let (create, undo) = if crate::harness::backend() == "postgres" {
        (
            format!(
                "CREATE FUNCTION {fail}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                   IF NEW.org_id = '{id}' AND {when} THEN RAISE EXCEPTION 'injected failure'; END IF; \
                   RETURN NEW; END $$; \
                 CREATE TRIGGER {fail} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {fail}()"
            ),
            format!("DROP TRIGGER {fail} ON {table}; DROP FUNCTION {fail}()"),
        )
    } else {
        (
            format!(
                "CREATE TRIGGER {fail} BEFORE INSERT ON {table} WHEN NEW.org_id = '{id}' AND {when} \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            ),
            format!("DROP TRIGGER {fail}"),
        )
    };
    as_owner(server, id, &create).await;
    undo
}

/// A write that fails half-way through a dial group (here the attempts'
/// insert, after the decisions' rows) rolls the whole group back: every
/// check of the group is an `internal_error` denial, no allowed decision,
/// attempt or `gate.decision` event of it remains, and the attempt limit
/// later counts none of them.
#[tokio::test]
async fn a_write_failing_mid_group_denies_every_check_and_leaves_nothing() {
    let server = TestServer::start().await;
    let org = server.new_org("MidGroup").await;
    acknowledge_no_dnc(&server, &org).await;
    let cmp = campaign(
        &server,
        &org,
        json!({"name": "once", "purpose": "telemarketing", "channel": "voice", "voice": "live",
               "max_attempts_per_lead": 1}),
    )
    .await;
    let leads = [
        new_lead(&server, &org, "212 555 0141", "form-m1").await,
        new_lead(&server, &org, "212 555 0142", "form-m2").await,
    ];
    let probe = new_lead(&server, &org, "212 555 0143", "form-m3").await;
    let probe = dial(
        &server,
        &org,
        json!({"lead_id": probe["id"], "campaign_id": cmp, "channel": "voice"}),
    )
    .await;
    let at = match probe["next_allowed"].as_str() {
        Some(t) => t.to_owned(),
        None => probe["at"].as_str().unwrap().to_owned(),
    };
    let undo = failing_inserts(&server, &org, "dial_attempts", "TRUE").await;
    let actor = server
        .store()
        .authenticate_api_key(&org.key, server.state.now())
        .await
        .unwrap();
    let job = |lead: &Value| lead_job(&server, &actor, &cmp, lead, at.parse().unwrap());
    let group = server
        .store()
        .dial_checks(leads.iter().map(job).collect())
        .await;
    assert_eq!(group.len(), 2);
    for r in group {
        let c = r.unwrap();
        assert!(!c.allowed);
        assert_eq!(
            codes(&serde_json::from_str(&c.json).unwrap()),
            ["internal_error"]
        );
    }
    as_owner(&server, &org.id, &undo).await;
    let count = |table: &str, filter: &str| {
        format!(
            "SELECT COUNT(*) FROM {table} WHERE org_id = '{}' AND {filter}",
            org.id
        )
    };
    // Only the probe's decision was allowed, only its attempt recorded.
    assert_eq!(
        as_owner(&server, &org.id, &count("dial_checks", "allowed")).await,
        Some(i64::from(probe["allowed"] == true))
    );
    assert_eq!(
        as_owner(
            &server,
            &org.id,
            &count("dial_attempts", "lead_id IS NOT NULL")
        )
        .await,
        Some(i64::from(probe["allowed"] == true))
    );
    let events = server.audit_events(&org).await;
    let decisions: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "gate.decision")
        .collect();
    assert_eq!(decisions.len(), 3, "the probe and two recorded failures");
    assert_eq!(
        decisions
            .iter()
            .filter(|e| e["details"]["reasons"] == json!(["internal_error"]))
            .count(),
        2
    );
    // The leads' one attempt each is still theirs to use, and then used.
    for lead in &leads {
        let body = json!({"lead_id": lead["id"], "campaign_id": cmp, "channel": "voice", "planned_at": at});
        let c = dial(&server, &org, body.clone()).await;
        assert_eq!(c["allowed"], true, "{c}");
        let c = dial(&server, &org, body).await;
        assert_eq!(codes(&c), ["max_attempts"], "{c}");
    }
}

/// `api.call` records that cannot be written (here every one of this
/// organization's, refused by a trigger) are rolled back alone: on SQLite
/// they may share a dial group's transaction, and the group's decisions
/// still commit, its chain still verifies, and records written afterwards
/// extend it.
#[tokio::test]
async fn api_call_records_that_fail_leave_the_dial_decisions_and_the_chain_intact() {
    let server = TestServer::start().await;
    let org = server.new_org("CallsFail").await;
    acknowledge_no_dnc(&server, &org).await;
    let cmp = campaign(
        &server,
        &org,
        json!({"name": "c", "purpose": "telemarketing", "channel": "voice", "voice": "live"}),
    )
    .await;
    let lead = new_lead(&server, &org, "212 555 0151", "form-c").await;
    server.state.audit.flush().await;
    let undo = failing_inserts(&server, &org, "audit_events", "NEW.action = 'api.call'").await;
    let body = json!({"lead_id": lead["id"], "campaign_id": cmp, "channel": "voice"});
    let calls = (0..8).map(|_| {
        server.call(
            &org.key,
            Method::POST,
            "/v1/dial-checks",
            Some(body.clone()),
        )
    });
    for (s, c) in futures_util::future::join_all(calls).await {
        assert_eq!(s, StatusCode::OK, "{c}");
        assert!(!codes(&c).iter().any(|r| r == "internal_error"), "{c}");
    }
    server.state.audit.flush().await;
    as_owner(&server, &org.id, &undo).await;
    dial(&server, &org, body).await;
    server.state.audit.flush().await;

    let chain = server.audit_chain(&org).await;
    let total = chain.len() as i64;
    let decisions = chain
        .iter()
        .filter(|e| e.event.action == "gate.decision")
        .count();
    let last_is_call = chain.last().is_some_and(|e| e.event.action == "api.call");
    let (count, _) =
        tollgate_core::audit::verify_chain(chain.into_iter().map(|e| (e.event, e.raw_hash)))
            .expect("the chain verifies");
    assert_eq!(count, total);
    assert_eq!(decisions, 9, "every decision is in the chain");
    assert!(
        last_is_call,
        "records written after the failure extend the chain"
    );
}

/// Attempts count whoever wrote them. On SQLite each store keeps its own
/// index of attempts in memory (ADR 0014): a second store opened on the
/// same database (as another process would) and a store opened afresh (a
/// restart) must both count every attempt written before, and the first
/// must count the second's.
#[tokio::test]
async fn attempts_written_by_another_store_or_before_a_restart_count() {
    let server = TestServer::start().await;
    let org = server.new_org("Elsewhere").await;
    acknowledge_no_dnc(&server, &org).await;
    let cmp = campaign(
        &server,
        &org,
        json!({"name": "capped", "purpose": "informational", "channel": "voice", "voice": "live",
               "caps": [{"max_attempts": 3, "window_hours": 24}]}),
    )
    .await;
    let lead = new_lead(&server, &org, "212 555 0188", "form-e").await;
    let at = inside_hours(&server, &org, &cmp, "212 555 0100").await;
    let body =
        json!({"lead_id": lead["id"], "campaign_id": cmp, "channel": "voice", "planned_at": at});
    let actor = server
        .store()
        .authenticate_api_key(&org.key, server.state.now())
        .await
        .unwrap();
    let elsewhere = || async {
        tollgate_server::open_store(&server.state.config, false)
            .await
            .unwrap()
            .store
    };
    let on = |store: tollgate_store::Store| {
        let job = lead_job(&server, &actor, &cmp, &lead, at.parse().unwrap());
        async move {
            let check = store.dial_checks(vec![job]).await.remove(0).unwrap();
            serde_json::from_str::<Value>(&check.json).unwrap()
        }
    };
    let allowed = |c: &Value| c["allowed"] == true;
    let capped = |c: &Value| codes(c) == ["frequency_cap"];
    let other = elsewhere().await;
    let c = dial(&server, &org, body.clone()).await;
    assert!(allowed(&c), "{c}");
    let c = on(other.clone()).await;
    assert!(allowed(&c), "the second store's first: {c}");
    // The server counts the second store's attempt: this is the third.
    let c = dial(&server, &org, body.clone()).await;
    assert!(allowed(&c), "{c}");
    let c = dial(&server, &org, body.clone()).await;
    assert!(capped(&c), "the fourth, two here and one elsewhere: {c}");
    // The second store counts the server's attempts.
    let c = on(other).await;
    assert!(capped(&c), "{c}");
    // A store opened afresh reads them all.
    let restarted = elsewhere().await;
    restarted.load_dial_attempts().await.unwrap();
    let c = on(restarted).await;
    assert!(capped(&c), "{c}");
}
