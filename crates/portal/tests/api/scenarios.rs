//! Every scenario of the sandbox, from the editor to its final state, over real HTTP: a member writes and sends
//! eight invoices (one per customer suffix), the embedded Billit sandbox plays each scenario, and the portal must
//! end with the right headline status, needs-action and timeline — once with every webhook delivered, once with
//! every webhook lost (polling alone), once with webhooks duplicated and shuffled. A restart between creating and
//! sending an order leaves exactly one order.

use crate::editor::{BUYER_SIREN, good_invoice, id_in, location, post, wait_for, with, year};
use crate::helpers::{PASSWORD, TestApp, Visitor};
use crate::statuses::{ACME, Setup, visible, wait_until};
use billit_sandbox::{Faults, PartyAccount, Sandbox, SandboxConfig};
use portal_billit::client::{BillitClient, BillitCredentials, ClientConfig, HttpBillitClient};
use portal_domain::Language;
use portal_domain::ids::InvoiceId;
use portal_domain::status::StatusCode;
use portal_persistence::TenantScope;
use std::collections::BTreeSet;

/// A suffix, the headline it ends with, whether the supplier must act, and codes its timeline must show.
struct Scenario {
    suffix: &'static str,
    headline: u16,
    needs_action: bool,
    timeline: &'static [u16],
}

const SCENARIOS: [Scenario; 8] = [
    Scenario {
        suffix: "",
        headline: 203,
        needs_action: false,
        timeline: &[200, 500, 250, 201, 202, 203],
    },
    Scenario {
        suffix: "_DEMO",
        headline: 205,
        needs_action: false,
        timeline: &[200, 201, 202, 203, 204, 205],
    },
    Scenario {
        suffix: "_ERROR",
        headline: 251,
        needs_action: true,
        timeline: &[200, 500, 251],
    },
    Scenario {
        suffix: "_DISPUTE",
        headline: 207,
        needs_action: true,
        timeline: &[200, 201, 202, 203, 207],
    },
    Scenario {
        suffix: "_SUSPEND",
        headline: 205,
        needs_action: false,
        timeline: &[200, 201, 203, 208, 209, 205],
    },
    Scenario {
        suffix: "_REFUSE",
        headline: 210,
        needs_action: true,
        timeline: &[200, 201, 203, 210],
    },
    Scenario {
        suffix: "_REJECT",
        headline: 213,
        needs_action: true,
        timeline: &[200, 500, 213],
    },
    Scenario {
        suffix: "_PAID",
        headline: 211,
        needs_action: false,
        timeline: &[200, 201, 203, 205, 211],
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Webhooks {
    Delivered,
    Dropped,
    DuplicatedAndShuffled,
}

struct Sent {
    scenario: &'static Scenario,
    invoice: InvoiceId,
    order: i64,
}

/// The member writes and sends one invoice per scenario through the editor; returns them once Billit has them.
async fn send_every_scenario(setup: &Setup, member: &Visitor<'_>) -> Vec<Sent> {
    let mut sent = Vec::new();
    for (index, scenario) in SCENARIOS.iter().enumerate() {
        let number = format!("F{}-{:05}", year(), index + 1);
        let form = with(
            good_invoice(&number),
            "buyer_electronic_address",
            &format!("0225:{BUYER_SIREN}{}", scenario.suffix),
        );
        let response = post(member, "/t/acme/invoices", &form, "send").await;
        assert_eq!(response.status(), 303, "{number} is accepted for sending");
        let id = id_in(&location(&response));
        let row = wait_for(&setup.app, id, "sent to Billit", |row| {
            row.submission_state == "sent"
        })
        .await;
        sent.push(Sent {
            scenario,
            invoice: InvoiceId::from_uuid(id),
            order: row.billit_order_id.expect("an order id"),
        });
    }
    sent
}

/// Runs every scheduled step at the sandbox and lets the portal hear of it (webhooks, or a poll when they are lost).
async fn play(setup: &Setup, scope: &TenantScope, webhooks: Webhooks) {
    setup.sandbox.advance();
    if webhooks == Webhooks::Dropped {
        portal_app::statuses::sweep_tenant_now(&setup.app.state, scope)
            .await
            .expect("a sweep");
    }
}

async fn codes_of(setup: &Setup, scope: &TenantScope, invoice: InvoiceId) -> BTreeSet<u16> {
    setup
        .app
        .state
        .invoices
        .events(scope, invoice)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|stored| stored.event.effective_code().map(|code| code.0))
        .collect()
}

/// Waits until the portal's summary of the invoice is what folding Billit's own view of the order gives.
async fn converged(setup: &Setup, scope: &TenantScope, webhooks: Webhooks, sent: &Sent) {
    wait_until("the portal agrees with Billit", async || {
        if webhooks == Webhooks::Dropped {
            portal_app::statuses::sweep_tenant_now(&setup.app.state, scope)
                .await
                .expect("a sweep");
        }
        let expected = setup.expected(scope, ACME, sent.invoice, sent.order).await;
        visible(&setup.summary(scope, sent.invoice).await) == visible(&expected)
    })
    .await;
}

async fn every_scenario_reaches_its_final_state(webhooks: Webhooks) {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    match webhooks {
        Webhooks::Delivered => {}
        Webhooks::Dropped => setup.mute_webhooks(),
        Webhooks::DuplicatedAndShuffled => setup
            .sandbox
            .set_faults(Faults {
                webhook_duplicate: 1.0,
                webhook_shuffle: true,
                ..Faults::default()
            })
            .unwrap(),
    }
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let sent = send_every_scenario(&setup, &member).await;

    play(&setup, &scope, webhooks).await;
    // The suspended invoice waits for the customer; the information is sent (by email, outside Billit) and the
    // customer's platform says so with a 209, after which the customer approves.
    let suspended = sent
        .iter()
        .find(|sent| sent.scenario.suffix == "_SUSPEND")
        .unwrap();
    wait_until("the 208 arrives", async || {
        if webhooks == Webhooks::Dropped {
            portal_app::statuses::sweep_tenant_now(&setup.app.state, &scope)
                .await
                .expect("a sweep");
        }
        setup.summary(&scope, suspended.invoice).await.headline == Some(StatusCode(208))
    })
    .await;
    assert!(setup.summary(&scope, suspended.invoice).await.needs_action);
    setup
        .sandbox
        .inject(suspended.order, 209, None, Some("Bon de livraison reçu"))
        .unwrap();
    play(&setup, &scope, webhooks).await;

    for sent in &sent {
        converged(&setup, &scope, webhooks, sent).await;
    }
    setup.settle().await;

    for sent in &sent {
        let scenario = sent.scenario;
        let label = format!("scenario '{}' ({webhooks:?})", scenario.suffix);
        let summary = setup.summary(&scope, sent.invoice).await;
        assert_eq!(
            summary.headline,
            Some(StatusCode(scenario.headline)),
            "{label}"
        );
        assert_eq!(summary.needs_action, scenario.needs_action, "{label}");
        let codes = codes_of(&setup, &scope, sent.invoice).await;
        for code in scenario.timeline {
            assert!(codes.contains(code), "{label}: {code} in {codes:?}");
        }
        // The invoice page says the same, in words.
        let page = member
            .get(&format!("/t/acme/invoices/{}", sent.invoice))
            .await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let headline = StatusCode(scenario.headline);
        assert!(
            html.contains(&format!(
                "{} · {}",
                headline.0,
                headline.label(Language::Fr)
            )),
            "{label}: the page shows its headline"
        );
        for code in scenario.timeline {
            let code = StatusCode(*code);
            assert!(
                html.contains(&code.label(Language::Fr)),
                "{label}: the timeline shows {}",
                code.0
            );
        }
    }
    // The list and the dashboard count them the same way.
    let list = member
        .get("/t/acme/invoices?action=1")
        .await
        .text()
        .await
        .unwrap();
    for sent in &sent {
        let shown = list.contains(&sent.invoice.to_string());
        assert_eq!(
            shown, sent.scenario.needs_action,
            "needs-action filter for '{}'",
            sent.scenario.suffix
        );
    }
    setup.stop().await;
}

#[tokio::test]
async fn every_scenario_ends_right_with_every_webhook_delivered() {
    every_scenario_reaches_its_final_state(Webhooks::Delivered).await;
}

#[tokio::test]
async fn every_scenario_ends_right_by_polling_alone_when_every_webhook_is_lost() {
    every_scenario_reaches_its_final_state(Webhooks::Dropped).await;
}

#[tokio::test]
async fn every_scenario_ends_right_with_duplicated_and_shuffled_webhooks() {
    every_scenario_reaches_its_final_state(Webhooks::DuplicatedAndShuffled).await;
}

/// The portal stops after Billit created the order and before it was sent (the send was refused for the moment);
/// a new process on the same database resumes with the stored order: exactly one order, sent.
#[tokio::test]
async fn a_restart_between_creating_and_sending_leaves_exactly_one_order() {
    const PARTY: i64 = 7_007;
    const KEY: &str = "restart-key";
    let sandbox = Sandbox::start(SandboxConfig {
        step_ms: 3_600_000,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    sandbox
        .add_party(PartyAccount {
            party_id: PARTY,
            api_key: KEY.to_owned(),
            name: "ACME SAS".to_owned(),
            vat_number: "FR44732829320".to_owned(),
            email: None,
        })
        .unwrap();
    let url = sandbox.base_url();
    let configure = move |mut config: portal::config::Config| {
        config.billit.embedded_url = Some(url.clone());
        config.jobs.workers = 1;
        config.jobs.poll_interval_ms = 20;
        config.jobs.retry_base_secs = 1;
        config
    };
    let first = TestApp::spawn_with(configure.clone(), portal::startup::default_registry).await;
    first.world().await;
    let admin = Visitor::signed_in(&first, "admin@acme.fr", PASSWORD).await;
    let party = PARTY.to_string();
    let saved = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit",
            &[
                ("environment", "embedded"),
                ("api_key", KEY),
                ("party_id", &party),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);

    // Every second call is refused with 429: the order's creation goes through (retried by the client if it
    // lands on an even call), and the send that follows it is refused, so the job waits to retry.
    sandbox
        .set_faults(Faults {
            rate_limit_every: 2,
            ..Faults::default()
        })
        .unwrap();
    let member = Visitor::signed_in(&first, "member@acme.fr", PASSWORD).await;
    let number = format!("F{}-00042", year());
    let response = post(&member, "/t/acme/invoices", &good_invoice(&number), "send").await;
    assert_eq!(response.status(), 303);
    let id = id_in(&location(&response));
    let created = wait_for(&first, id, "the order created, the send refused", |row| {
        row.billit_order_id.is_some() && row.submission_error.is_some()
    })
    .await;
    assert_ne!(created.submission_state, "sent");
    let order_id = created.billit_order_id.unwrap();
    let database = first.shutdown().await;

    sandbox.set_faults(Faults::default()).unwrap();
    let second = TestApp::spawn_on(database, configure, portal::startup::default_registry).await;
    let resumed = wait_for(&second, id, "sent after the restart", |row| {
        row.submission_state == "sent"
    })
    .await;
    assert_eq!(resumed.billit_order_id, Some(order_id));
    let client = HttpBillitClient::new(
        &sandbox.base_url(),
        &BillitCredentials {
            api_key: KEY.to_owned(),
            party_id: PARTY.to_string(),
            context_party_id: None,
        },
        &ClientConfig::default(),
    )
    .unwrap();
    let orders = client
        .list_orders_modified_since(chrono::Utc::now() - chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(orders.len(), 1, "exactly one order at Billit");
    assert_eq!(orders[0].order_id, Some(order_id));
    assert_eq!(orders[0].order_number.as_deref(), Some(number.as_str()));
    second.shutdown().await;
    sandbox.shutdown().await;
}
