//! Test helpers: a sandbox, a client, orders, a webhook receiver.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use billit_sandbox::{PartyAccount, RunningSandbox, Sandbox, SandboxConfig};
use portal_billit::client::{BillitCredentials, ClientConfig, HttpBillitClient, RetryPolicy};
use portal_billit::wire::{Identifier, Order, OrderLine, Party};
use rust_decimal::Decimal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

pub const PARTY: i64 = 1_079_374;
pub const KEY: &str = "test-api-key";

/// A sandbox whose steps never fire on their own (tests use `advance`).
pub async fn sandbox() -> RunningSandbox {
    sandbox_with(SandboxConfig {
        step_ms: 3_600_000,
        webhook_retry_base_ms: 20,
        ..SandboxConfig::default()
    })
    .await
}

pub async fn sandbox_with(config: SandboxConfig) -> RunningSandbox {
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    sandbox
        .add_party(PartyAccount {
            party_id: PARTY,
            api_key: KEY.to_owned(),
            name: "FR demo send".to_owned(),
            vat_number: "FR99227010068".to_owned(),
            email: Some("[email protected]".to_owned()),
        })
        .expect("party");
    sandbox
}

pub fn client(sandbox: &RunningSandbox) -> HttpBillitClient {
    client_with(sandbox, KEY, 0)
}

pub fn client_with(sandbox: &RunningSandbox, key: &str, retries: u32) -> HttpBillitClient {
    HttpBillitClient::new(
        &sandbox.base_url(),
        &BillitCredentials {
            api_key: key.to_owned(),
            party_id: PARTY.to_string(),
            context_party_id: None,
        },
        &ClientConfig {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_retries: retries,
                ..RetryPolicy::default()
            },
        },
    )
    .expect("client")
}

/// A raw HTTP client with the credentials.
pub fn raw(
    sandbox: &RunningSandbox,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}{path}", sandbox.base_url()))
        .header("ApiKey", KEY)
        .header("PartyID", PARTY.to_string())
}

pub fn dec(text: &str) -> Decimal {
    text.parse().expect("decimal")
}

/// An invoice to a customer whose CTC identifier is `127362116<suffix>`.
pub fn invoice(number: &str, suffix: &str) -> Order {
    Order {
        order_number: Some(number.to_owned()),
        order_type: Some("Invoice".to_owned()),
        order_direction: Some("Income".to_owned()),
        order_date: Some(portal_billit::wire::BillitDateTime(
            "2026-05-06T00:00:00".to_owned(),
        )),
        order_title: Some("Simple".to_owned()),
        reference: Some("PO 546458".to_owned()),
        comments: Some("additional info".to_owned()),
        payment_reference: Some("365878545".to_owned()),
        delivery_date: Some(portal_billit::wire::BillitDateTime(
            "2026-04-27T00:00:00".to_owned(),
        )),
        customer: Some(Party {
            name: Some("FR demo receive".to_owned()),
            vat_number: Some("FR37127362116".to_owned()),
            identifiers: Some(vec![Identifier {
                identifier_type: Some("CTC".to_owned()),
                identifier: Some(format!("127362116{suffix}")),
                scheme_id: Some("0225".to_owned()),
                ..Identifier::default()
            }]),
            ..Party::default()
        }),
        order_lines: Some(vec![OrderLine {
            quantity: Some(dec("1.0")),
            unit_price_excl: Some(dec("400.0")),
            unit_price_incl: Some(dec("480.0")),
            description: Some("just a single line".to_owned()),
            description_extended: Some("some extended description".to_owned()),
            vat_percentage: Some(dec("20.0")),
            ..OrderLine::default()
        }]),
        ..Order::default()
    }
}

/// What a webhook receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

/// A webhook receiver on a loopback port; answers 500 to the first `fail_first` calls.
pub struct Receiver {
    pub url: String,
    pub rx: mpsc::UnboundedReceiver<Received>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Received>();
        let failures = Arc::new(AtomicUsize::new(fail_first));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = HttpServer::new(move || {
            let tx = tx.clone();
            let failures = Arc::clone(&failures);
            App::new().route(
                "/hook",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let tx = tx.clone();
                    let failures = Arc::clone(&failures);
                    async move {
                        let left = failures.load(Ordering::SeqCst);
                        if left > 0 {
                            failures.store(left - 1, Ordering::SeqCst);
                            return HttpResponse::InternalServerError().finish();
                        }
                        let signature = req
                            .headers()
                            .get("Billit-Signature")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let _sent = tx.send(Received {
                            signature,
                            body: body.to_vec(),
                        });
                        HttpResponse::Ok().finish()
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://{addr}/hook"),
            rx,
            handle,
        }
    }

    /// The next call, waiting at most 10 s (a channel signal, not a sleep).
    pub async fn next(&mut self) -> Option<Received> {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
