//! Statuses in, end to end: the embedded Billit sandbox sends signed webhooks to the running portal (or the portal
//! polls it), workers apply them, and the invoice's summary, its events, the members' emails and the live stream
//! follow.

use crate::helpers::{PASSWORD, TestApp, Visitor};
use billit_sandbox::{Faults, PartyAccount, RunningSandbox, Sandbox, SandboxConfig};
use portal_billit::classify::classify_order;
use portal_billit::client::{BillitClient, BillitCredentials, ClientConfig, HttpBillitClient};
use portal_billit::wire::Order;
use portal_domain::ids::InvoiceId;
use portal_domain::invoice::{BuyerDraft, InvoiceDraft};
use portal_domain::lifecycle::{Lifecycle, Source, StatusEvent};
use portal_domain::status::StatusCode;
use portal_persistence::TenantScope;
use portal_persistence::invoices::{InvoiceContent, InvoiceSummary, TotalsCents, summary_from};
use portal_persistence::webhook_deliveries::{DeliveryState, WebhookDeliveryRepository};
use std::time::{Duration, Instant};

pub(crate) const ACME: (i64, &str) = (1_001, "acme-api-key");
const GLOBEX: (i64, &str) = (1_002, "globex-api-key");

/// The sandbox account of `ACME` or `GLOBEX` (each with its company's VAT number, so that the portal accepts its
/// key for that company only).
pub(crate) fn party_account((party, key): (i64, &str)) -> PartyAccount {
    let (name, vat_number) = if party == GLOBEX.0 {
        ("Globex SARL", "FR64443061841")
    } else {
        ("ACME SAS", "FR44732829320")
    };
    PartyAccount {
        party_id: party,
        api_key: key.to_owned(),
        name: name.to_owned(),
        vat_number: vat_number.to_owned(),
        email: None,
    }
}

pub(crate) struct Setup {
    pub(crate) app: TestApp,
    pub(crate) sandbox: RunningSandbox,
}

impl Setup {
    /// The portal with its workers, and a sandbox whose steps run only when told (`advance`).
    pub(crate) async fn start() -> Self {
        Self::start_with(|config| config).await
    }

    /// `start`, with the configuration changed by `configure` (e.g. a test SMTP server).
    pub(crate) async fn start_with(
        configure: impl FnOnce(portal::config::Config) -> portal::config::Config,
    ) -> Self {
        let sandbox = Sandbox::start(SandboxConfig {
            step_ms: 3_600_000,
            webhook_retry_base_ms: 20,
            ..SandboxConfig::default()
        })
        .await
        .expect("the sandbox starts");
        for account in [ACME, GLOBEX] {
            sandbox.add_party(party_account(account)).expect("a party");
        }
        let url = sandbox.base_url();
        let app = TestApp::spawn_with(
            move |mut config| {
                config.billit.embedded_url = Some(url);
                config.jobs.workers = 2;
                config.jobs.poll_interval_ms = 50;
                configure(config)
            },
            portal::startup::default_registry,
        )
        .await;
        app.world().await;
        Self { app, sandbox }
    }

    pub(crate) async fn stop(self) {
        self.sandbox.shutdown().await;
        self.app.shutdown().await;
    }

    pub(crate) async fn scope(&self, email: &str, slug: &str) -> TenantScope {
        let user = self
            .app
            .state
            .users
            .find_by_email(email)
            .await
            .unwrap()
            .unwrap();
        self.app
            .state
            .tenants
            .scope_for_member(user.id, slug)
            .await
            .unwrap()
            .unwrap()
            .1
    }

    /// The tenant's admin connects it to its sandbox account and registers the webhooks, through the settings
    /// pages.
    pub(crate) async fn connect(&self, slug: &str, (party, key): (i64, &str)) -> TenantScope {
        let admin = format!("admin@{slug}.fr");
        let visitor = Visitor::signed_in(&self.app, &admin, PASSWORD).await;
        let settings = format!("/t/{slug}/settings/billit");
        let party = party.to_string();
        let saved = visitor
            .submit(
                &settings,
                &settings,
                &[
                    ("environment", "embedded"),
                    ("api_key", key),
                    ("party_id", &party),
                    ("context_party_id", ""),
                ],
            )
            .await;
        assert!(saved.status().is_success() || saved.status() == 303);
        let registered = visitor
            .submit(&settings, &format!("{settings}/webhook"), &[])
            .await;
        assert!(registered.status().is_success() || registered.status() == 303);
        let scope = self.scope(&admin, slug).await;
        let connection = self.app.state.billit.get(&scope).await.unwrap().unwrap();
        assert!(
            connection.webhook_registered,
            "{slug}'s webhooks are registered"
        );
        scope
    }

    pub(crate) fn client(&self, (party, key): (i64, &str)) -> HttpBillitClient {
        HttpBillitClient::new(
            &self.sandbox.base_url(),
            &BillitCredentials {
                api_key: key.to_owned(),
                party_id: party.to_string(),
                context_party_id: None,
            },
            &ClientConfig::default(),
        )
        .unwrap()
    }

    /// An invoice sent to a customer whose CTC identifier ends with `suffix` (the sandbox's scenario): the order
    /// is created and sent at the sandbox directly, and the invoice row points to it.
    pub(crate) async fn send(
        &self,
        scope: &TenantScope,
        account: (i64, &str),
        number: &str,
        suffix: &str,
    ) -> (InvoiceId, i64) {
        let state = &self.app.state;
        let content = InvoiceContent {
            customer_id: None,
            draft: InvoiceDraft {
                number: number.to_owned(),
                issue_date: chrono::NaiveDate::from_ymd_opt(2026, 9, 1),
                buyer: BuyerDraft {
                    legal_name: "Client Démo SA".into(),
                    ..BuyerDraft::default()
                },
                ..InvoiceDraft::default()
            },
            totals: TotalsCents {
                excl: 40_000,
                vat: 8_000,
                incl: 48_000,
            },
        };
        let id = state
            .invoices
            .create_draft(scope, &content, None)
            .await
            .unwrap();
        let order: Order = serde_json::from_value(serde_json::json!({
            "OrderNumber": number,
            "OrderType": "Invoice",
            "OrderDirection": "Income",
            "OrderDate": "2026-09-01T00:00:00",
            "Customer": {
                "Name": "Client Démo SA",
                "VATNumber": "FR37127362116",
                "Identifiers": [{"IdentifierType": "CTC", "Identifier": format!("127362116{suffix}"), "SchemeID": "0225"}]
            },
            "OrderLines": [{"Quantity": 1, "UnitPriceExcl": 400, "VATPercentage": 20, "Description": "Conseil"}]
        }))
        .unwrap();
        let client = self.client(account);
        let order_id = client
            .create_order(&order, &format!("test-{id}"))
            .await
            .unwrap();
        client.send_orders(&[order_id], "Peppol").await.unwrap();
        state
            .invoices
            .set_order_id(scope, id, order_id)
            .await
            .unwrap();
        state
            .invoices
            .mark_sent(scope, id, chrono::Utc::now())
            .await
            .unwrap();
        (id, order_id)
    }

    pub(crate) async fn summary(&self, scope: &TenantScope, id: InvoiceId) -> InvoiceSummary {
        self.app
            .state
            .invoices
            .get(scope, id)
            .await
            .unwrap()
            .unwrap()
            .summary
    }

    /// What folding the order as Billit shows it now gives (with the invoice's own total).
    pub(crate) async fn expected(
        &self,
        scope: &TenantScope,
        account: (i64, &str),
        invoice: InvoiceId,
        order_id: i64,
    ) -> InvoiceSummary {
        let order = self.client(account).get_order(order_id).await.unwrap();
        let classified = classify_order(&order);
        let record = self
            .app
            .state
            .invoices
            .get(scope, invoice)
            .await
            .unwrap()
            .unwrap();
        let mut facts = classified.facts;
        facts.total_incl = record.facts().total_incl;
        summary_from(&Lifecycle::fold(&classified.events, &facts), false)
    }

    /// Waits (polling, with a deadline) until every job has run; fails if one died.
    pub(crate) async fn settle(&self) {
        let queue = &self.app.state.jobs.queue;
        wait_until("every job ran", async || {
            let counts = queue.counts().await.unwrap();
            counts.queued == 0 && counts.running == 0
        })
        .await;
        let dead = queue
            .list(portal_persistence::jobs::JobState::Dead, 10)
            .await
            .unwrap();
        assert!(dead.is_empty(), "dead jobs: {dead:#?}");
    }

    /// The tenant's decrypted webhook signing secret.
    pub(crate) async fn secret(&self, scope: &TenantScope) -> String {
        let (_, secrets) = self
            .app
            .state
            .billit
            .with_secrets(scope)
            .await
            .unwrap()
            .unwrap();
        let decrypted = portal_app::crypto::decrypt(
            &self.app.state.master_key,
            scope.tenant_id(),
            &secrets.webhook_secret.unwrap(),
        )
        .unwrap();
        serde_json::from_str::<Vec<String>>(&decrypted).unwrap()[0].clone()
    }

    pub(crate) async fn token(&self, scope: &TenantScope) -> String {
        self.app
            .state
            .billit
            .get(scope)
            .await
            .unwrap()
            .unwrap()
            .webhook_token
    }

    pub(crate) async fn post_webhook(
        &self,
        token: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> u16 {
        let mut request = self
            .app
            .client
            .post(format!("{}/hooks/billit/{token}", self.app.address))
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("Billit-Signature", signature);
        }
        request.send().await.unwrap().status().as_u16()
    }

    /// The sandbox sends no webhook: every delivery the portal stores is one the test posted.
    pub(crate) fn mute_webhooks(&self) {
        self.sandbox
            .set_faults(Faults {
                webhook_drop: 1.0,
                ..Faults::default()
            })
            .unwrap();
    }

    /// Waits until every event Billit's order shows now is stored for the invoice.
    pub(crate) async fn caught_up(
        &self,
        scope: &TenantScope,
        account: (i64, &str),
        invoice: InvoiceId,
        order_id: i64,
    ) {
        let order = self.client(account).get_order(order_id).await.unwrap();
        let expected: std::collections::BTreeSet<String> = classify_order(&order)
            .events
            .into_iter()
            .map(|event| event.dedup_key)
            .collect();
        wait_until("every event of the order stored", async || {
            let stored: std::collections::BTreeSet<String> = self
                .app
                .state
                .invoices
                .events(scope, invoice)
                .await
                .unwrap()
                .into_iter()
                .map(|stored| stored.event.dedup_key)
                .collect();
            stored.is_superset(&expected)
        })
        .await;
    }

    pub(crate) fn deliveries(&self) -> WebhookDeliveryRepository {
        WebhookDeliveryRepository::new(self.app.test_db.db.clone())
    }
}

/// The fields the list and the page show, compared between two summaries.
pub(crate) fn visible(summary: &InvoiceSummary) -> impl PartialEq + std::fmt::Debug + use<> {
    (
        summary.headline,
        summary.is_final,
        summary.needs_action,
        summary.action_reasons.clone(),
        summary.delivery,
        summary.tax_reporting,
        summary.payment,
    )
}

fn now_signature(secret: &str, body: &[u8]) -> String {
    portal_billit::webhook::sign(secret.as_bytes(), chrono::Utc::now().timestamp(), body)
}

pub(crate) async fn wait_until(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if condition().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn webhooks_bring_invoices_to_their_statuses() {
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    let (approved, approved_order) = setup.send(&acme, ACME, "F2026-0001", "_DEMO").await;
    let (delivered, delivered_order) = setup.send(&acme, ACME, "F2026-0002", "").await;
    setup.sandbox.advance();

    wait_until("approved (205) and made available (203)", async || {
        setup.summary(&acme, approved).await.headline == Some(StatusCode(205))
            && setup.summary(&acme, delivered).await.headline == Some(StatusCode(203))
    })
    .await;
    setup.settle().await;
    for (invoice, order) in [(approved, approved_order), (delivered, delivered_order)] {
        let summary = setup.summary(&acme, invoice).await;
        assert_eq!(
            visible(&summary),
            visible(&setup.expected(&acme, ACME, invoice, order).await)
        );
        assert!(!summary.needs_action);
        let events = setup
            .app
            .state
            .invoices
            .events(&acme, invoice)
            .await
            .unwrap();
        assert!(events.iter().any(|event| event.via == "webhook"));
    }
    wait_until("every delivery processed", async || {
        let deliveries = setup.deliveries().recent(&acme, 500).await.unwrap();
        !deliveries.is_empty()
            && deliveries
                .iter()
                .all(|delivery| delivery.state == DeliveryState::Processed)
    })
    .await;
    setup.stop().await;
}

#[tokio::test]
async fn bad_signatures_unknown_tokens_and_oversized_bodies_are_refused_and_nothing_is_stored() {
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    setup.mute_webhooks();
    let (invoice, order_id) = setup.send(&acme, ACME, "F2026-0003", "_DEMO").await;
    setup.settle().await;
    let token = setup.token(&acme).await;
    let secret = setup.secret(&acme).await;
    let body = serde_json::to_vec(&serde_json::json!({
        "UpdatedEntityID": 1,
        "UpdatedEntityType": "Message",
        "WebhookUpdateTypeTC": "I",
        "EntityDetail": {"OrderID": order_id, "OrderMessage": {
            "Description": "210 Refusée: CONTRAT_TERM", "TransportType": "Peppol",
            "MessageDirection": "Incoming", "CreationDate": "2026-09-02T10:00:00", "Success": true
        }}
    }))
    .unwrap();

    let wrong =
        portal_billit::webhook::sign(b"not the secret", chrono::Utc::now().timestamp(), &body);
    assert_eq!(setup.post_webhook(&token, &body, Some(&wrong)).await, 401);
    assert_eq!(setup.post_webhook(&token, &body, None).await, 401);
    assert_eq!(
        setup.post_webhook(&token, &body, Some("t=1,s=zz")).await,
        401
    );
    let stale = portal_billit::webhook::sign(
        secret.as_bytes(),
        chrono::Utc::now().timestamp() - 3_600,
        &body,
    );
    assert_eq!(setup.post_webhook(&token, &body, Some(&stale)).await, 401);
    // Signed for another body.
    let other = now_signature(&secret, b"{}");
    assert_eq!(setup.post_webhook(&token, &body, Some(&other)).await, 401);
    // A token nobody has.
    let signed = now_signature(&secret, &body);
    assert_eq!(
        setup
            .post_webhook("no-such-token", &body, Some(&signed))
            .await,
        404
    );
    // Over 1 MiB, even well signed.
    let huge = vec![b' '; 1024 * 1024 + 1];
    let huge_signed = now_signature(&secret, &huge);
    assert_eq!(
        setup.post_webhook(&token, &huge, Some(&huge_signed)).await,
        413
    );
    setup.settle().await;
    assert!(
        setup
            .deliveries()
            .recent(&acme, 100)
            .await
            .unwrap()
            .is_empty(),
        "nothing stored"
    );
    assert!(
        setup
            .app
            .state
            .invoices
            .events(&acme, invoice)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(setup.summary(&acme, invoice).await.headline, None);

    // Well signed, it is stored, answered at once and applied by a job.
    assert_eq!(setup.post_webhook(&token, &body, Some(&signed)).await, 200);
    wait_until("the refusal applied", async || {
        setup.summary(&acme, invoice).await.headline == Some(StatusCode(210))
    })
    .await;
    // An order the portal does not know is noted, not an error.
    let unknown = serde_json::to_vec(&serde_json::json!({
        "UpdatedEntityID": 999_999, "UpdatedEntityType": "Order", "WebhookUpdateTypeTC": "U",
        "EntityDetail": {"OrderID": 999_999}
    }))
    .unwrap();
    assert_eq!(
        setup
            .post_webhook(&token, &unknown, Some(&now_signature(&secret, &unknown)))
            .await,
        200
    );
    setup.settle().await;
    let deliveries = setup.deliveries().recent(&acme, 100).await.unwrap();
    let noted = deliveries
        .iter()
        .find(|delivery| delivery.body.contains("999999"))
        .unwrap();
    assert_eq!(noted.state, DeliveryState::Processed);
    assert!(
        noted
            .error
            .as_deref()
            .unwrap()
            .contains("matches no invoice")
    );
    setup.stop().await;
}

#[tokio::test]
async fn a_replayed_webhook_delivery_is_answered_but_not_stored_again() {
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    setup.mute_webhooks();
    let token = setup.token(&acme).await;
    let secret = setup.secret(&acme).await;
    let body = br#"{"UpdatedEntityID":999999,"UpdatedEntityType":"Order","WebhookUpdateTypeTC":"U","EntityDetail":{"OrderID":999999}}"#;
    let now = chrono::Utc::now().timestamp();
    let signed = portal_billit::webhook::sign(secret.as_bytes(), now, body);
    for _ in 0..5 {
        assert_eq!(setup.post_webhook(&token, body, Some(&signed)).await, 200);
    }
    // The same body signed at another second is another delivery (Billit's own retry).
    let again = portal_billit::webhook::sign(secret.as_bytes(), now - 1, body);
    assert_eq!(setup.post_webhook(&token, body, Some(&again)).await, 200);
    setup.settle().await;
    let stored = setup.deliveries().recent(&acme, 100).await.unwrap();
    assert_eq!(stored.len(), 2, "one per signature: {stored:#?}");
    setup.stop().await;
}

#[tokio::test]
async fn a_webhook_signed_with_acmes_secret_posted_to_globex_is_refused() {
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    let globex = setup.connect("globex", GLOBEX).await;
    setup.mute_webhooks();
    let (theirs, their_order) = setup.send(&globex, GLOBEX, "G2026-0001", "").await;
    setup.settle().await;
    let before = setup.summary(&globex, theirs).await;
    let acme_secret = setup.secret(&acme).await;
    assert_ne!(acme_secret, setup.secret(&globex).await);
    let body = serde_json::to_vec(&serde_json::json!({
        "UpdatedEntityID": 7, "UpdatedEntityType": "Message", "WebhookUpdateTypeTC": "I",
        "EntityDetail": {"OrderID": their_order, "OrderMessage": {
            "Description": "213 Rejetée: DEST_INC", "TransportType": "Peppol",
            "MessageDirection": "Incoming", "CreationDate": "2026-09-02T10:00:00"
        }}
    }))
    .unwrap();
    let globex_token = setup.token(&globex).await;
    assert_eq!(
        setup
            .post_webhook(
                &globex_token,
                &body,
                Some(&now_signature(&acme_secret, &body))
            )
            .await,
        401
    );
    setup.settle().await;
    assert!(
        setup
            .deliveries()
            .recent(&globex, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(setup.summary(&globex, theirs).await, before);
    assert!(
        setup
            .app
            .state
            .invoices
            .events(&globex, theirs)
            .await
            .unwrap()
            .iter()
            .all(|event| event.event.code != Some(StatusCode(213)))
    );
    // Posted to acme's own endpoint, it names an order acme does not have: noted, nothing applied to globex.
    let acme_token = setup.token(&acme).await;
    assert_eq!(
        setup
            .post_webhook(
                &acme_token,
                &body,
                Some(&now_signature(&acme_secret, &body))
            )
            .await,
        200
    );
    setup.settle().await;
    assert_eq!(setup.summary(&globex, theirs).await, before);
    setup.stop().await;
}

/// A webhook body naming an order nobody has, signed now with `secret`.
fn stray_delivery(secret: &str) -> (Vec<u8>, String) {
    let body = br#"{"UpdatedEntityID":424242,"UpdatedEntityType":"Order","WebhookUpdateTypeTC":"U","EntityDetail":{"OrderID":424242}}"#.to_vec();
    let signature = now_signature(secret, &body);
    (body, signature)
}

#[tokio::test]
async fn a_secret_moved_to_another_companys_row_does_not_open_there() {
    use portal_persistence::entities::billit_connections;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    let globex = setup.connect("globex", GLOBEX).await;
    setup.mute_webhooks();
    let db = &setup.app.test_db.db;
    let row = |scope: &TenantScope| {
        billit_connections::Entity::find_by_id(scope.tenant_id().as_uuid()).one(db)
    };
    let acmes = row(&acme).await.unwrap().unwrap();
    let mut globexs: billit_connections::ActiveModel = row(&globex).await.unwrap().unwrap().into();
    globexs.webhook_secret_encrypted = Set(acmes.webhook_secret_encrypted.clone());
    globexs.api_key_encrypted = Set(acmes.api_key_encrypted.clone());
    globexs.update(db).await.unwrap();

    let (body, signature) = stray_delivery(&setup.secret(&acme).await);
    let globex_token = setup.token(&globex).await;
    assert_eq!(
        setup
            .post_webhook(&globex_token, &body, Some(&signature))
            .await,
        401,
        "acme's secret, copied into globex's row, verifies nothing there"
    );
    assert!(
        setup
            .deliveries()
            .recent(&globex, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        portal_app::billit_connection::client_for(&setup.app.state, &globex)
            .await
            .is_err(),
        "nor does acme's API key open Billit for globex"
    );
    setup.stop().await;
}

#[tokio::test]
async fn secrets_stored_before_they_were_bound_are_bound_at_start_up() {
    use aes_gcm::aead::{Aead, KeyInit};
    use base64::Engine as _;
    use portal_persistence::entities::billit_connections;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    setup.mute_webhooks();
    let secret = setup.secret(&acme).await;
    // The earlier format: base64 of nonce and ciphertext, no associated data.
    let legacy = |plain: &str| {
        let cipher =
            aes_gcm::Aes256Gcm::new_from_slice(setup.app.state.master_key.bytes()).unwrap();
        let nonce = [3u8; 12];
        let sealed = cipher
            .encrypt(&aes_gcm::Nonce::from(nonce), plain.as_bytes())
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode([nonce.as_slice(), &sealed].concat())
    };
    let db = &setup.app.test_db.db;
    let mut row: billit_connections::ActiveModel =
        billit_connections::Entity::find_by_id(acme.tenant_id().as_uuid())
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .into();
    row.api_key_encrypted = Set(Some(legacy(ACME.1)));
    row.webhook_secret_encrypted = Set(Some(legacy(&serde_json::to_string(&[&secret]).unwrap())));
    row.update(db).await.unwrap();

    let bind = portal_app::billit_connection::bind_legacy_secrets;
    assert_eq!(bind(&setup.app.state).await.unwrap(), 1);
    assert_eq!(bind(&setup.app.state).await.unwrap(), 0, "once is enough");
    let stored = billit_connections::Entity::find_by_id(acme.tenant_id().as_uuid())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.api_key_encrypted.unwrap().starts_with("v2:"));
    let (body, signature) = stray_delivery(&secret);
    let token = setup.token(&acme).await;
    assert_eq!(
        setup.post_webhook(&token, &body, Some(&signature)).await,
        200
    );
    let (client, _) = portal_app::billit_connection::client_for(&setup.app.state, &acme)
        .await
        .unwrap();
    client.account_information().await.unwrap();
    setup.stop().await;
}

#[tokio::test]
async fn duplicated_shuffled_old_shape_webhooks_change_nothing() {
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    setup
        .sandbox
        .set_faults(Faults {
            webhook_duplicate: 1.0,
            webhook_shuffle: true,
            webhook_shape: Some("old".to_owned()),
            ..Faults::default()
        })
        .unwrap();
    let (invoice, order_id) = setup.send(&acme, ACME, "F2026-0004", "_DEMO").await;
    setup.sandbox.advance();
    wait_until("approved", async || {
        setup.summary(&acme, invoice).await.headline == Some(StatusCode(205))
    })
    .await;
    setup.caught_up(&acme, ACME, invoice, order_id).await;
    // Every webhook came twice (the portal answered both; a copy signed in the same second is a replay, and
    // is not even stored).
    wait_until("a webhook delivered twice", async || {
        let sent: Vec<(String, i64)> = setup
            .sandbox
            .deliveries()
            .into_iter()
            .filter(|delivery| delivery.outcome == "sent")
            .map(|delivery| (delivery.entity_type, delivery.entity_id))
            .collect();
        sent.iter()
            .any(|one| sent.iter().filter(|other| *other == one).count() >= 2)
    })
    .await;
    setup.settle().await;
    let summary = setup.summary(&acme, invoice).await;
    assert_eq!(
        visible(&summary),
        visible(&setup.expected(&acme, ACME, invoice, order_id).await)
    );
    let events = setup
        .app
        .state
        .invoices
        .events(&acme, invoice)
        .await
        .unwrap();
    assert!(events.iter().any(|event| event.via == "webhook"));
    let deliveries = setup.deliveries().recent(&acme, 500).await.unwrap();

    // Every delivery once more, freshly signed: nothing changes.
    let token = setup.token(&acme).await;
    let secret = setup.secret(&acme).await;
    for delivery in &deliveries {
        let body = delivery.body.as_bytes();
        assert_eq!(
            setup
                .post_webhook(&token, body, Some(&now_signature(&secret, body)))
                .await,
            200
        );
    }
    setup.settle().await;
    assert_eq!(setup.summary(&acme, invoice).await, summary);
    assert_eq!(
        setup
            .app
            .state
            .invoices
            .events(&acme, invoice)
            .await
            .unwrap()
            .len(),
        events.len()
    );
    setup.stop().await;
}

#[tokio::test]
async fn polling_alone_converges_to_the_same_summary() {
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    setup
        .sandbox
        .set_faults(Faults {
            webhook_drop: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let (invoice, order_id) = setup.send(&acme, ACME, "F2026-0005", "_DEMO").await;
    let (other, other_order) = setup.send(&acme, ACME, "F2026-0006", "").await;
    // The first sweep has no cursor yet: it reads every open invoice once and starts the cursor.
    let first = portal_app::statuses::sweep_tenant_now(&setup.app.state, &acme)
        .await
        .unwrap();
    assert!(first.connected);
    assert_eq!(first.full_check_reads, 2);
    setup.settle().await;
    setup.sandbox.advance();
    // The next one lists what changed since and applies it at once.
    let second = portal_app::statuses::sweep_tenant_now(&setup.app.state, &acme)
        .await
        .unwrap();
    assert_eq!(second.invoices_updated, 2);
    assert_eq!(second.full_check_reads, 0);
    assert_eq!(
        setup.summary(&acme, invoice).await.headline,
        Some(StatusCode(205))
    );
    setup.settle().await;
    for (id, order) in [(invoice, order_id), (other, other_order)] {
        assert_eq!(
            visible(&setup.summary(&acme, id).await),
            visible(&setup.expected(&acme, ACME, id, order).await)
        );
    }
    assert!(
        setup
            .deliveries()
            .recent(&acme, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A tenant without a connection is skipped.
    let globex = setup.scope("admin@globex.fr", "globex").await;
    let skipped = portal_app::statuses::sweep_tenant_now(&setup.app.state, &globex)
        .await
        .unwrap();
    assert!(!skipped.connected);
    setup.stop().await;
}

#[tokio::test]
async fn a_dispute_needs_action_is_explained_by_its_file_and_sends_one_email_per_event() {
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    // The member turns the alerts off on the account page; a globex user cannot touch acme's choices.
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let account = member.get("/account").await.text().await.unwrap();
    assert!(account.contains("name=\"notify\" value=\"acme\""));
    let saved = member
        .submit("/account", "/account/notifications", &[])
        .await;
    assert_eq!(saved.status(), 303);
    let page = member.get("/account?saved=1").await.text().await.unwrap();
    assert!(!page.contains("value=\"acme\" checked"));
    let outsider = Visitor::signed_in(&setup.app, "admin@globex.fr", PASSWORD).await;
    let refused = outsider
        .post_without_token("/account/notifications", &[("notify", "acme")])
        .await;
    assert_eq!(refused.status(), 403);
    let ignored = outsider
        .submit(
            "/account",
            "/account/notifications",
            &[("notify", "acme"), ("notify", "globex")],
        )
        .await;
    assert_eq!(ignored.status(), 303);
    let recipients = portal_persistence::notifications::NotificationRepository::new(
        setup.app.test_db.db.clone(),
    )
    .needs_action_recipients(&acme)
    .await
    .unwrap();
    assert_eq!(
        recipients
            .iter()
            .map(|r| r.email.as_str())
            .collect::<Vec<_>>(),
        ["admin@acme.fr"],
        "the member turned them off; a viewer cannot act, so gets none"
    );
    // A viewer is not offered the choice either.
    let viewer = Visitor::signed_in(&setup.app, "viewer@acme.fr", PASSWORD).await;
    let viewer_account = viewer.get("/account").await.text().await.unwrap();
    assert!(
        !viewer_account.contains("name=\"notify\""),
        "{viewer_account}"
    );
    assert!(viewer_account.contains("les lecteurs ne reçoivent pas d’alertes"));

    let (invoice, _) = setup.send(&acme, ACME, "F2026-0007", "_DISPUTE").await;
    setup.sandbox.advance();
    wait_until("the dispute, explained by its status file", async || {
        let summary = setup.summary(&acme, invoice).await;
        let events = setup
            .app
            .state
            .invoices
            .events(&acme, invoice)
            .await
            .unwrap();
        summary.needs_action
            && summary.headline == Some(StatusCode(207))
            && events
                .iter()
                .any(|e| e.event.code == Some(StatusCode(207)) && e.details.is_some())
    })
    .await;
    let outbox = &setup.app.state.outbox;
    wait_until("the alert queued", async || {
        !outbox
            .recent_for_tenant(&acme, 100)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    setup.settle().await;
    let events = setup
        .app
        .state
        .invoices
        .events(&acme, invoice)
        .await
        .unwrap();
    let dispute = events
        .iter()
        .find(|e| e.event.code == Some(StatusCode(207)))
        .unwrap();
    assert!(dispute.event.has_reason("TX_TVA_ERR"), "{dispute:#?}");
    assert_eq!(dispute.event.requested_action.as_deref(), Some("NIN"));
    let details = dispute.details.as_ref().unwrap();
    assert!(
        details.notes.iter().any(
            |note| note.reason.as_deref() == Some("TX_TVA_ERR") && note.message.contains("TVA")
        ),
        "{details:#?}"
    );

    // More of the same (a sweep, every webhook again) sends nothing more.
    portal_app::statuses::sweep_tenant_now(&setup.app.state, &acme)
        .await
        .unwrap();
    let token = setup.token(&acme).await;
    let secret = setup.secret(&acme).await;
    for delivery in setup.deliveries().recent(&acme, 500).await.unwrap() {
        let body = delivery.body.as_bytes();
        setup
            .post_webhook(&token, body, Some(&now_signature(&secret, body)))
            .await;
    }
    setup.settle().await;

    let emails: Vec<_> = setup
        .app
        .state
        .outbox
        .recent_for_tenant(&acme, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|stored| stored.email.subject.contains("F2026-0007"))
        .collect();
    let mut recipients: Vec<_> = emails
        .iter()
        .flat_map(|stored| stored.email.to.clone())
        .collect();
    recipients.sort();
    assert_eq!(
        recipients,
        ["admin@acme.fr"],
        "one email for the admin; none for the member who opted out, none for the viewer"
    );
    let email = &emails[0].email;
    assert!(email.subject.contains("En litige"), "{}", email.subject);
    let link = format!("{}/t/acme/invoices/{invoice}", setup.app.state.base_url);
    for body in [&email.text_body, &email.html_body] {
        assert!(body.contains(&link));
        assert!(body.contains("Client Démo SA"));
        assert!(body.contains("TX_TVA_ERR"));
        assert!(body.contains("Le taux de TVA de la ligne 1"));
    }
    setup.stop().await;
}

/// The next `event: invoice` block of a server-sent event stream (comments and heartbeats skipped).
async fn next_invoice_event(response: &mut reqwest::Response, buffer: &mut String) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if block.starts_with("event: invoice") {
                return block;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, response.chunk())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream is open");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test]
async fn the_live_stream_tells_each_tenant_of_its_own_invoices_only() {
    let setup = Setup::start().await;
    let acme = setup.scope("admin@acme.fr", "acme").await;
    let globex = setup.scope("admin@globex.fr", "globex").await;
    let mut ids = Vec::new();
    for (scope, number) in [(&acme, "F2026-0008"), (&globex, "G2026-0008")] {
        let content = InvoiceContent {
            customer_id: None,
            draft: InvoiceDraft {
                number: number.to_owned(),
                ..InvoiceDraft::default()
            },
            totals: TotalsCents::default(),
        };
        ids.push(
            setup
                .app
                .state
                .invoices
                .create_draft(scope, &content, None)
                .await
                .unwrap(),
        );
    }
    let (acme_invoice, globex_invoice) = (ids[0], ids[1]);

    // Any role of the tenant may listen; another tenant's user gets the same 404 as for nothing.
    let viewer = Visitor::signed_in(&setup.app, "viewer@acme.fr", PASSWORD).await;
    let outsider = Visitor::signed_in(&setup.app, "admin@globex.fr", PASSWORD).await;
    assert_eq!(outsider.get("/t/acme/live").await.status(), 404);
    assert_eq!(
        Visitor::new(&setup.app).get("/t/acme/live").await.status(),
        303
    );
    let mut acme_stream = viewer.get("/t/acme/live").await;
    assert_eq!(acme_stream.status(), 200);
    assert!(
        acme_stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut globex_stream = outsider.get("/t/globex/live").await;
    assert_eq!(globex_stream.status(), 200);

    let made_available = |key: &str| {
        StatusEvent::status(
            StatusCode(203),
            Source::BuyerPlatform,
            chrono::Utc::now(),
            key,
        )
    };
    portal_app::statuses::ingest(
        &setup.app.state,
        &acme,
        acme_invoice,
        &[made_available("acme-203")],
        None,
        "test",
    )
    .await
    .unwrap();
    let mut acme_buffer = String::new();
    let event = next_invoice_event(&mut acme_stream, &mut acme_buffer).await;
    assert!(
        event.contains(&format!("\"invoice\":\"{acme_invoice}\"")),
        "{event}"
    );
    assert!(event.contains("\"headline\":203"), "{event}");

    portal_app::statuses::ingest(
        &setup.app.state,
        &globex,
        globex_invoice,
        &[made_available("globex-203")],
        None,
        "test",
    )
    .await
    .unwrap();
    // Globex's first event is its own invoice: acme's, published before, never reached it.
    let mut globex_buffer = String::new();
    let event = next_invoice_event(&mut globex_stream, &mut globex_buffer).await;
    assert!(event.contains(&globex_invoice.to_string()), "{event}");
    assert!(!globex_buffer.contains(&acme_invoice.to_string()));

    // The same event again changes nothing, so nothing is published; the next change is.
    portal_app::statuses::ingest(
        &setup.app.state,
        &acme,
        acme_invoice,
        &[
            made_available("acme-203"),
            made_available("acme-203-again").with_description("again"),
        ],
        None,
        "test",
    )
    .await
    .unwrap();
    let event = next_invoice_event(&mut acme_stream, &mut acme_buffer).await;
    assert!(event.contains(&acme_invoice.to_string()));
    assert!(!acme_buffer.contains(&globex_invoice.to_string()));
    drop(acme_stream);
    drop(globex_stream);
    setup.stop().await;
}

#[tokio::test]
async fn registering_the_webhooks_again_replaces_the_old_ones_at_billit() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let first = setup.app.state.billit.get(&scope).await.unwrap().unwrap();
    assert_eq!(first.webhook_ids.len(), 2);
    let admin = Visitor::signed_in(&setup.app, "admin@acme.fr", PASSWORD).await;
    let again = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit/webhook",
            &[],
        )
        .await;
    assert!(again.status().is_success());
    let second = setup.app.state.billit.get(&scope).await.unwrap().unwrap();
    assert_eq!(second.webhook_ids.len(), 2);
    assert!(
        second
            .webhook_ids
            .iter()
            .all(|id| !first.webhook_ids.contains(id))
    );
    let at_billit: Vec<String> = setup
        .client(ACME)
        .list_webhooks()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|webhook| webhook.webhook_id.map(|id| id.to_string()))
        .collect();
    let mut expected = second.webhook_ids.clone();
    expected.sort();
    let mut found = at_billit;
    found.sort();
    assert_eq!(found, expected, "only the new webhooks remain at Billit");
    setup.stop().await;
}
