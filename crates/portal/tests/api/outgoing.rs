//! Outgoing webhooks over real HTTP: a company admin registers an endpoint of a small HTTP server of the test on
//! the settings page; an invoice sent through the editor to a `_SUSPEND` customer plays at the sandbox, and the
//! server receives the statuses signed, in order, with a retry after it answered 500 once. An endpoint failing for
//! three days is paused and the admins told; every new route is a 404 for another company.

use crate::editor::{BUYER_SIREN, wait_for, year};
use crate::helpers::{PASSWORD, TestApp, Visitor, csrf_of};
use crate::statuses::{ACME, Setup, wait_until};
use portal_app::outgoing_webhooks::{DELIVER_JOB, SIGNATURE_HEADER};
use portal_persistence::TenantScope;
use portal_persistence::outgoing_webhooks::{EndpointState, MessageState, OutgoingEvent};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    signature: Option<String>,
    body: String,
    /// What the receiver answered.
    status: u16,
}

/// A tiny HTTP/1.1 server: records every request and answers the scripted statuses in turn (then 200).
#[derive(Clone)]
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/portal", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(
            script.iter().copied().collect::<VecDeque<u16>>(),
        ));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let log = log.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let Some((headers, body)) = read_request(&mut stream).await else {
                        return;
                    };
                    let status = script.lock().unwrap().pop_front().unwrap_or(200);
                    let signature = headers.lines().find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case(SIGNATURE_HEADER)
                            .then(|| value.trim().to_owned())
                    });
                    log.lock().unwrap().push(Received {
                        signature,
                        body,
                        status,
                    });
                    let answer = if status == 200 { "merci" } else { "en panne" };
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<(String, String)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let headers = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length: usize = headers
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let read = stream.read(&mut chunk).await.ok()?;
                if read == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..read]);
            }
            let body = String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).into_owned();
            return Some((headers, body));
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// The admin registers `url` for `events` on the settings page; returns the endpoint's id and its secret (shown
/// once, on the answer to the registration).
async fn register(app: &TestApp, slug: &str, url: &str, events: &[&str]) -> (uuid::Uuid, String) {
    let admin = Visitor::signed_in(app, &format!("admin@{slug}.fr"), PASSWORD).await;
    let page = format!("/t/{slug}/settings/webhooks");
    let mut form = vec![("url", url)];
    form.extend(events.iter().map(|event| ("events", *event)));
    let response = admin.submit(&page, &page, &form).await;
    assert_eq!(response.status(), 201, "the endpoint is registered");
    let html = response.text().await.unwrap();
    let secret = html
        .split("id=\"secret\" readonly value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the secret is shown")
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let scope = scope_of(app, slug).await;
    let endpoint = app.state.outgoing_webhooks.list(&scope).await.unwrap()[0].id;
    // Shown once: the page does not show it again, and it is stored encrypted.
    let again = admin.get(&page).await.text().await.unwrap();
    assert!(!again.contains(&secret));
    let stored = app
        .state
        .outgoing_webhooks
        .get(&scope, endpoint)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.encrypted_secret.contains(&secret));
    (endpoint, secret)
}

async fn scope_of(app: &TestApp, slug: &str) -> TenantScope {
    let user = app
        .state
        .users
        .find_by_email(&format!("admin@{slug}.fr"))
        .await
        .unwrap()
        .unwrap();
    app.state
        .tenants
        .scope_for_member(user.id, slug)
        .await
        .unwrap()
        .unwrap()
        .1
}

/// The portal with one worker (webhooks applied in the order they came) and a sandbox that plays each step two
/// seconds after the previous one, as Billit does over time: the portal reads the order a second after a message
/// webhook (what says "made available", 203), before the next step comes.
async fn ticking_setup() -> Setup {
    let sandbox = billit_sandbox::Sandbox::start(billit_sandbox::SandboxConfig {
        step_ms: 2_000,
        webhook_retry_base_ms: 20,
        ..billit_sandbox::SandboxConfig::default()
    })
    .await
    .expect("the sandbox starts");
    sandbox
        .add_party(crate::statuses::party_account(ACME))
        .expect("a party");
    let url = sandbox.base_url();
    let app = TestApp::spawn_with(
        move |mut config| {
            config.billit.embedded_url = Some(url);
            config.jobs.workers = 1;
            config.jobs.poll_interval_ms = 50;
            config.jobs.retry_base_secs = 1;
            config
        },
        portal::startup::default_registry,
    )
    .await;
    app.world().await;
    Setup { app, sandbox }
}

/// Waits (polling, with a deadline long enough for a scenario played in real time).
async fn wait_long(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).expect("a JSON body")
}

#[tokio::test]
async fn a_suspended_invoice_reaches_the_company_system_signed_in_order_after_a_retry() {
    let setup = ticking_setup().await;
    let scope = setup.connect("acme", ACME).await;
    // The receiver fails the first delivery once.
    let receiver = Receiver::start(&[500]).await;
    let (endpoint, secret) = register(
        &setup.app,
        "acme",
        &receiver.url,
        &["invoice.status_changed", "invoice.request_opened"],
    )
    .await;

    // The company's own software creates and submits the invoice through the JSON API.
    let token =
        crate::api_v1::make_token(&setup.app, "admin@acme.fr", "acme", "ERP", "read_write").await;
    let mut body = crate::api_v1::invoice_body(&format!("F{}-W0001", year()));
    body["buyer"]["electronic_address"] = serde_json::json!(format!("0225:{BUYER_SIREN}_SUSPEND"));
    let created = setup
        .app
        .client
        .post(format!("{}/api/v1/invoices", setup.app.address))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = json(&created.text().await.unwrap());
    let invoice = uuid::Uuid::parse_str(created["id"].as_str().unwrap()).unwrap();
    let submitted = setup
        .app
        .client
        .post(format!(
            "{}/api/v1/invoices/{invoice}/submit",
            setup.app.address
        ))
        .bearer_auth(&token)
        .header("Idempotency-Key", "erp-w0001")
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 202);
    wait_for(&setup.app, invoice, "sent to Billit", |row| {
        row.submission_state == "sent"
    })
    .await;

    // The sandbox plays the scenario on its own, a step every two seconds.
    wait_long("the 208 and its request reach the receiver", async || {
        receiver
            .received()
            .iter()
            .any(|got| got.status == 200 && json(&got.body)["type"] == "invoice.request_opened")
    })
    .await;
    let received = receiver.received();
    // Every delivery is signed with the endpoint's secret, like Billit signs its own.
    for got in &received {
        portal_billit::webhook::verify_signature(
            got.signature.as_deref(),
            got.body.as_bytes(),
            secret.as_bytes(),
            chrono::Utc::now(),
            Duration::from_secs(300),
        )
        .unwrap_or_else(|error| panic!("{error}: {got:?}"));
        assert_eq!(json(&got.body)["data"]["invoice_id"], invoice.to_string());
    }
    // The first one was refused with a 500 and came again (the same event), then the others.
    assert_eq!(received[0].status, 500);
    assert_eq!(json(&received[0].body)["id"], json(&received[1].body)["id"]);
    assert_eq!(received[1].status, 200);
    let delivered: Vec<serde_json::Value> = received
        .iter()
        .filter(|got| got.status == 200)
        .map(|got| json(&got.body))
        .collect();
    let transmission: Vec<u64> = delivered
        .iter()
        .filter(|body| body["type"] == "invoice.status_changed")
        .filter_map(|body| body["data"]["code"].as_u64())
        .filter(|code| [201, 202, 203, 208].contains(code))
        .collect();
    assert_eq!(transmission, vec![201, 202, 203, 208], "{delivered:#?}");
    let opened = delivered
        .iter()
        .position(|body| body["type"] == "invoice.request_opened")
        .unwrap();
    let suspended = delivered
        .iter()
        .position(|body| body["data"]["code"] == 208)
        .unwrap();
    assert!(opened > suspended, "the request opens after its status");
    assert_eq!(delivered[opened]["data"]["code"], 208);

    // The log shows the refused attempt and the delivered ones.
    let admin = Visitor::signed_in(&setup.app, "admin@acme.fr", PASSWORD).await;
    let page = format!("/t/acme/settings/webhooks/{endpoint}");
    let html = admin.get(&page).await.text().await.unwrap();
    assert!(html.contains("<strong>500</strong>"), "{html}");
    assert!(html.contains("en panne") && html.contains("merci"));

    // "Send again" sends the same event once more, after the others.
    let messages = setup
        .app
        .state
        .outgoing_webhooks
        .messages(&scope, endpoint, 50)
        .await
        .unwrap();
    assert!(
        messages
            .iter()
            .all(|message| message.state == MessageState::Delivered)
    );
    let first = messages.last().unwrap();
    let before = receiver.received().len();
    let resent = admin
        .submit(&page, &format!("{page}/messages/{}/resend", first.id), &[])
        .await;
    assert_eq!(resent.status(), 303);
    wait_until("the event is sent again", async || {
        receiver.received().len() > before
    })
    .await;
    let again = receiver.received().pop().unwrap();
    assert_eq!(json(&again.body)["id"], json(&first.body)["id"]);
    setup.stop().await;
}

#[tokio::test]
async fn an_endpoint_failing_for_three_days_is_paused_and_the_admins_told() {
    let app = TestApp::spawn_with(
        |mut config| {
            config.jobs.workers = 1;
            config.jobs.poll_interval_ms = 50;
            config
        },
        portal::startup::default_registry,
    )
    .await;
    app.world().await;
    let receiver = Receiver::start(&[503]).await;
    let (endpoint, _) = register(&app, "acme", &receiver.url, &["invoice.failed"]).await;
    let scope = scope_of(&app, "acme").await;
    let repo = &app.state.outgoing_webhooks;
    // It has been failing for four days (the clock moved through the data).
    let long_ago = chrono::Utc::now() - chrono::Duration::days(4);
    assert!(
        repo.set_failing_since(&scope, endpoint, Some(long_ago))
            .await
            .unwrap()
    );
    let event = OutgoingEvent {
        event_type: "invoice.failed".into(),
        invoice_id: Some(uuid::Uuid::now_v7()),
        body: r#"{"type":"invoice.failed"}"#.into(),
    };
    portal_persistence::outgoing_webhooks::emit_in(
        &app.state.db,
        &scope,
        &[event],
        DELIVER_JOB,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    app.state.jobs.ring();
    // The pause is committed before the admins' emails are queued (by the same job, just after): wait for both,
    // or a slow database shows the pause with no email yet.
    wait_until("the endpoint is paused and its admins told", async || {
        repo.get(&scope, endpoint).await.unwrap().unwrap().state == EndpointState::Paused
            && app
                .state
                .outbox
                .recent_for_tenant(&scope, 10)
                .await
                .unwrap()
                .iter()
                .any(|stored| stored.email.subject == "Vos webhooks sont en pause")
    })
    .await;
    assert_eq!(receiver.received().len(), 1, "one attempt, then paused");
    let emails = app
        .state
        .outbox
        .recent_for_tenant(&scope, 10)
        .await
        .unwrap();
    let told: Vec<_> = emails
        .iter()
        .filter(|stored| stored.email.subject == "Vos webhooks sont en pause")
        .collect();
    assert_eq!(told.len(), 1, "{emails:#?}");
    assert_eq!(told[0].email.to, vec!["admin@acme.fr".to_owned()]);
    // The waiting message stays pending; the page says it is paused and resumes it.
    let message = &repo.messages(&scope, endpoint, 10).await.unwrap()[0];
    assert_eq!(message.state, MessageState::Pending);
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let page = format!("/t/acme/settings/webhooks/{endpoint}");
    let resumed = admin.submit(&page, &format!("{page}/resume"), &[]).await;
    assert_eq!(resumed.status(), 303);
    wait_until("the waiting message is delivered", async || {
        repo.message(&scope, message.id)
            .await
            .unwrap()
            .unwrap()
            .state
            == MessageState::Delivered
    })
    .await;
    let endpoint = repo.get(&scope, endpoint).await.unwrap().unwrap();
    assert_eq!(endpoint.state, EndpointState::Active);
    assert_eq!(endpoint.failing_since, None);
    app.shutdown().await;
}

#[tokio::test]
async fn a_bad_address_is_refused_in_words_and_nothing_is_saved() {
    let app = TestApp::spawn_with(
        |mut config| {
            config.integrations.allow_loopback_webhooks = Some(false);
            config
        },
        |_| portal_app::worker::JobRegistry::new(),
    )
    .await;
    app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let page = "/t/acme/settings/webhooks";
    for (url, events, words) in [
        (
            "http://erp.example.fr/hooks",
            &["invoice.failed"][..],
            "https valide",
        ),
        (
            "http://127.0.0.1:9/hooks",
            &["invoice.failed"][..],
            "adresses locales",
        ),
        (
            "https://erp.example.fr/hooks",
            &[][..],
            "au moins un événement",
        ),
    ] {
        let mut form = vec![("url", url)];
        form.extend(events.iter().map(|event| ("events", *event)));
        let response = admin.submit(page, page, &form).await;
        assert_eq!(response.status(), 422, "{url}");
        let html = response.text().await.unwrap();
        assert!(html.contains(words), "{url}: {html}");
    }
    let scope = scope_of(&app, "acme").await;
    assert!(
        app.state
            .outgoing_webhooks
            .list(&scope)
            .await
            .unwrap()
            .is_empty()
    );
    app.shutdown().await;
}

#[tokio::test]
async fn another_company_gets_404_on_every_webhook_route() {
    let app = TestApp::spawn().await;
    app.world().await;
    let (endpoint, _) = register(
        &app,
        "acme",
        "http://127.0.0.1:9/hooks",
        &["invoice.failed"],
    )
    .await;
    let scope = scope_of(&app, "acme").await;
    let event = OutgoingEvent {
        event_type: "invoice.failed".into(),
        invoice_id: None,
        body: "{}".into(),
    };
    portal_persistence::outgoing_webhooks::emit_in(
        &app.state.db,
        &scope,
        &[event],
        DELIVER_JOB,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let message = app
        .state
        .outgoing_webhooks
        .messages(&scope, endpoint, 1)
        .await
        .unwrap()[0]
        .id;

    let outsider = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    for page in [
        "/t/acme/settings/webhooks".to_owned(),
        format!("/t/acme/settings/webhooks/{endpoint}"),
        // Acme's endpoint through the outsider's own company.
        format!("/t/globex/settings/webhooks/{endpoint}"),
    ] {
        assert_eq!(outsider.get(&page).await.status(), 404, "GET {page}");
    }
    let token = csrf_of(
        &outsider
            .get("/t/globex/settings/webhooks")
            .await
            .text()
            .await
            .unwrap(),
    );
    for action in [
        "/t/acme/settings/webhooks".to_owned(),
        format!("/t/acme/settings/webhooks/{endpoint}/resume"),
        format!("/t/acme/settings/webhooks/{endpoint}/delete"),
        format!("/t/acme/settings/webhooks/{endpoint}/messages/{message}/resend"),
        format!("/t/globex/settings/webhooks/{endpoint}/resume"),
        format!("/t/globex/settings/webhooks/{endpoint}/delete"),
        format!("/t/globex/settings/webhooks/{endpoint}/messages/{message}/resend"),
    ] {
        let response = outsider
            .client
            .post(format!("{}{action}", app.address))
            .form(&[
                ("csrf_token", token.as_str()),
                ("url", "https://evil.example/"),
                ("events", "invoice.failed"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "POST {action}");
    }
    // A member of the company is not an admin: refused before anything is read.
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    assert_eq!(member.get("/t/acme/settings/webhooks").await.status(), 403);
    // Nothing changed: acme keeps its one endpoint and its one message; globex has none.
    let messages = app
        .state
        .outgoing_webhooks
        .messages(&scope, endpoint, 10)
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        app.state
            .outgoing_webhooks
            .list(&scope)
            .await
            .unwrap()
            .len(),
        1
    );
    let globex = scope_of(&app, "globex").await;
    assert!(
        app.state
            .outgoing_webhooks
            .list(&globex)
            .await
            .unwrap()
            .is_empty()
    );
    app.shutdown().await;
}
