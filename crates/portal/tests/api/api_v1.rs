//! The JSON API over real HTTP: tokens made on the settings page, every endpoint, the problems it answers, the
//! idempotent submission across restarts (one order at the sandbox), other companies' ids (404), read tokens
//! (403), the rate limit (429). Every answer of every call is checked against the served OpenAPI document
//! (`Contract`): a response that drifts from the document fails the test that made it.

use crate::editor::{API_KEY, BUYER_SIREN, PARTY_ID, connect_billit, today, year};
use crate::helpers::{PASSWORD, TestApp, Visitor};
use billit_sandbox::{PartyAccount, RunningSandbox, Sandbox, SandboxConfig};
use portal_persistence::entities::audit_log;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

// ---- the contract ----

/// The served OpenAPI document, and what was checked against it.
pub struct Contract {
    document: Value,
    /// `(method, path template, status)` of every answer checked.
    seen: Mutex<BTreeSet<(String, String, u16)>>,
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Contract {
    pub(crate) async fn load(app: &TestApp) -> Self {
        let response = app.get("/api/v1/openapi.json").await;
        assert_eq!(response.status(), 200);
        let document: Value = response.json().await.unwrap();
        assert_eq!(document["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
        Self {
            document,
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// The document's path template for a concrete path (`/api/v1/invoices/{id}` for `/api/v1/invoices/0193…`).
    fn template(&self, path: &str) -> String {
        let path = path.split('?').next().unwrap();
        let parts: Vec<&str> = path.split('/').collect();
        let templates = self.document["paths"].as_object().unwrap();
        // Literal paths win over templated ones (`/invoices/lookup` over `/invoices/{id}`).
        let mut best: Option<(usize, String)> = None;
        for template in templates.keys() {
            let pieces: Vec<&str> = template.split('/').collect();
            if pieces.len() != parts.len() {
                continue;
            }
            let matches = pieces
                .iter()
                .zip(&parts)
                .all(|(piece, part)| piece.starts_with('{') || piece == part);
            if matches {
                let literal = pieces
                    .iter()
                    .filter(|piece| !piece.starts_with('{'))
                    .count();
                if best.as_ref().is_none_or(|(count, _)| literal > *count) {
                    best = Some((literal, template.clone()));
                }
            }
        }
        best.unwrap_or_else(|| panic!("{path} is not in the OpenAPI document"))
            .1
    }

    /// Checks an answer against the document: its status is documented for the operation, its content type is
    /// the documented one, and its body validates against the documented schema.
    fn check(&self, method: &Method, path: &str, status: u16, content_type: &str, body: &Value) {
        let template = self.template(path);
        let method_name = method.as_str().to_lowercase();
        let pointer = format!(
            "/paths/{}/{}/responses/{}/content",
            escape(&template),
            method_name,
            status
        );
        let content = self.document.pointer(&pointer).unwrap_or_else(|| {
            panic!(
                "{method} {template} answered {status}, which the document does not list: {body}"
            )
        });
        let (declared, _) = content.as_object().unwrap().iter().next().unwrap();
        assert!(
            content_type.starts_with(declared.as_str()),
            "{method} {template} {status}: content type {content_type}, documented {declared}"
        );
        let mut root = self.document.clone();
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        // A URI fragment: the pointer with `{` and `}` percent-encoded.
        let fragment = format!("{pointer}/{}/schema", escape(declared))
            .replace('{', "%7B")
            .replace('}', "%7D");
        root["$ref"] = json!(format!("#{fragment}"));
        let validator = jsonschema::validator_for(&root).expect("the document's schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {status} does not match the document: {errors:?}\n{body:#}"
        );
        self.seen
            .lock()
            .unwrap()
            .insert((method_name, template, status));
    }

    /// Every operation of the document answered at least once with a success.
    fn assert_every_operation_succeeded(&self) {
        let seen = self.seen.lock().unwrap();
        for (path, item) in self.document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let succeeded = seen
                    .iter()
                    .any(|(m, p, status)| m == method && p == path && (200..300).contains(status));
                assert!(succeeded, "{method} {path} was never called successfully");
            }
        }
    }
}

/// A client of the API with one token.
pub struct Client<'a> {
    app: &'a TestApp,
    contract: &'a Contract,
    token: String,
    http: reqwest::Client,
}

/// An answer: status, headers, JSON body.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl<'a> Client<'a> {
    pub fn new(app: &'a TestApp, contract: &'a Contract, token: &str) -> Self {
        Self {
            app,
            contract,
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.app.address))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path} {status}: not JSON: {text}"));
        self.contract
            .check(&method, path, status, &content_type, &body);
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, Some(body), None).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.call(Method::PUT, path, Some(body), None).await
    }
}

// ---- the world ----

async fn sandbox() -> RunningSandbox {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    sandbox
        .add_party(PartyAccount {
            party_id: PARTY_ID,
            api_key: API_KEY.to_owned(),
            name: "ACME SAS".to_owned(),
            vat_number: "FR44732829320".to_owned(),
            email: None,
        })
        .unwrap();
    sandbox
}

fn configure(url: String) -> impl FnOnce(portal::config::Config) -> portal::config::Config {
    move |mut config| {
        config.billit.embedded_url = Some(url);
        config.jobs.workers = 1;
        config.jobs.poll_interval_ms = 20;
        config.jobs.retry_base_secs = 1;
        config
    }
}

async fn app_with_billit(sandbox: &RunningSandbox) -> TestApp {
    let app = TestApp::spawn_with(
        configure(sandbox.base_url()),
        portal::startup::default_registry,
    )
    .await;
    app.world().await;
    connect_billit(&app).await;
    app
}

/// A token made by `admin_email` on its company's settings page: its secret, read from the page that shows it once.
pub async fn make_token(
    app: &TestApp,
    admin_email: &str,
    slug: &str,
    name: &str,
    scope: &str,
) -> String {
    let admin = Visitor::signed_in(app, admin_email, PASSWORD).await;
    let page = format!("/t/{slug}/settings/api-tokens");
    let created = admin
        .submit(&page, &page, &[("name", name), ("scope", scope)])
        .await;
    assert_eq!(created.status(), 201);
    let html = created.text().await.unwrap();
    let secret = html
        .split("value=\"pt_")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|rest| format!("pt_{rest}"))
        .expect("the new token is shown");
    assert_eq!(secret.len(), 67);
    secret
}

fn customer_body(name: &str, siren: &str) -> Value {
    json!({
        "legal_name": name,
        "siren": siren,
        "contact_emails": ["compta@globex.fr"],
        "address": {"street": "1 rue de la Paix", "postcode": "75002", "city": "Paris", "country": "FR"},
        "language": "fr"
    })
}

pub(crate) fn invoice_body(number: &str) -> Value {
    json!({
        "number": number,
        "issue_date": today(),
        "buyer": {
            "legal_name": "Globex SARL",
            "siren": BUYER_SIREN,
            "electronic_address": format!("0225:{BUYER_SIREN}"),
            "contact_emails": ["compta@globex.fr"],
            "address": {"street": "1 rue de la Paix", "postcode": "75002", "city": "Paris", "country": "FR"},
            "language": "fr"
        },
        "lines": [
            {"description": "Conseil", "quantity": "3", "unit": "HUR", "unit_price": "100", "vat_rate": "20"},
            {"description": "Livre", "quantity": "1", "unit_price": "50.50", "vat_rate": "5.5"}
        ],
        "purchase_order": "PO-2026-17"
    })
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn id_of(answer: &Answer) -> String {
    answer.body["id"].as_str().unwrap().to_owned()
}

// ---- the tests ----

#[tokio::test]
async fn every_endpoint_works_and_answers_what_its_openapi_document_says() {
    let sandbox = sandbox().await;
    let app = app_with_billit(&sandbox).await;
    let contract = Contract::load(&app).await;
    let token = make_token(&app, "admin@acme.fr", "acme", "ERP", "read_write").await;
    let api = Client::new(&app, &contract, &token);

    // Customers: every problem at once, in both languages, with its business term.
    let bad = api
        .post(
            "/api/v1/customers",
            &json!({"legal_name": "", "siren": "123", "contact_emails": ["nope"]}),
        )
        .await;
    assert_eq!(bad.status, 422);
    let problems = bad.body["problems"].as_array().unwrap();
    let fields: Vec<&str> = problems
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"legal_name")
            && fields.contains(&"siren")
            && fields.contains(&"contact_emails"),
        "{fields:?}"
    );
    let siren = problems.iter().find(|p| p["field"] == "siren").unwrap();
    assert_eq!(siren["term"], "BT-47");
    assert_ne!(siren["message_fr"], siren["message_en"]);
    let created = api
        .post(
            "/api/v1/customers",
            &customer_body("Globex SARL", BUYER_SIREN),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let customer = id_of(&created);
    assert_eq!(
        created.body["electronic_address"],
        format!("0225:{BUYER_SIREN}")
    );
    let second = api
        .post("/api/v1/customers", &customer_body("Initech", "552100554"))
        .await;
    assert_eq!(second.status, 201, "{}", second.body);
    let updated = api
        .put(
            &format!("/api/v1/customers/{customer}"),
            &customer_body("Globex SA", BUYER_SIREN),
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.body["legal_name"], "Globex SA");
    let fetched = api.get(&format!("/api/v1/customers/{customer}")).await;
    assert_eq!(fetched.body["legal_name"], "Globex SA");
    let page = api.get("/api/v1/customers?limit=1").await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    let cursor = page.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = api
        .get(&format!("/api/v1/customers?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(rest.body["items"][0]["legal_name"], "Initech");
    assert!(rest.body["next_cursor"].is_null());
    let searched = api.get("/api/v1/customers?q=initech").await;
    assert_eq!(searched.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(api.get("/api/v1/customers?cursor=nope").await.status, 400);
    assert_eq!(api.get("/api/v1/customers/not-an-id").await.status, 404);

    // Invoices: the editor's checks, every problem with its field path and term, nothing saved.
    let number = format!("F{}-00001", year());
    let mut wrong = invoice_body(&number);
    wrong["issue_date"] = json!("31/02/2026");
    wrong["buyer"]["siren"] = json!("123456789");
    wrong["lines"][1]["vat_rate"] = json!("19");
    let refused = api.post("/api/v1/invoices", &wrong).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["code"], "validation");
    let problems = refused.body["problems"].as_array().unwrap();
    let by_field = |field: &str| {
        problems
            .iter()
            .find(|p| p["field"] == field)
            .unwrap_or_else(|| panic!("{field}: {problems:?}"))
    };
    assert_eq!(by_field("issue_date")["term"], "BT-2");
    assert_eq!(by_field("buyer.siren")["term"], "BT-47");
    assert_eq!(by_field("lines[1].vat_rate")["term"], "BT-152");
    assert!(
        by_field("lines[1].vat_rate")["message_fr"]
            .as_str()
            .unwrap()
            .len()
            > 5
    );
    assert_eq!(
        api.get("/api/v1/invoices").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let not_json = api
        .call(
            Method::POST,
            "/api/v1/invoices",
            Some(&json!({"number": 5})),
            None,
        )
        .await;
    assert_eq!(not_json.status, 400);
    assert!(not_json.body["detail"].as_str().unwrap().contains("number"));

    let created = api.post("/api/v1/invoices", &invoice_body(&number)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let invoice = id_of(&created);
    assert_eq!(created.body["totals"]["incl"], "413.28");
    assert_eq!(created.body["submission"]["state"], "draft");
    let duplicate = api.post("/api/v1/invoices", &invoice_body(&number)).await;
    assert_eq!(duplicate.status, 422);
    assert_eq!(duplicate.body["problems"][0]["term"], "BT-1");
    // A draft named by its customer takes the customer's details.
    let mut by_customer = invoice_body(&format!("F{}-00002", year()));
    by_customer.as_object_mut().unwrap().remove("buyer");
    by_customer["customer_id"] = json!(customer);
    let from_customer = api.post("/api/v1/invoices", &by_customer).await;
    assert_eq!(from_customer.status, 201, "{}", from_customer.body);
    assert_eq!(from_customer.body["buyer"]["legal_name"], "Globex SA");
    assert_eq!(from_customer.body["customer_id"], customer);
    let mut changed = invoice_body(&number);
    changed["purchase_order"] = json!("PO-2");
    let saved = api
        .put(&format!("/api/v1/invoices/{invoice}"), &changed)
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(saved.body["purchase_order"], "PO-2");

    // Submission needs a key; the key's first answer is the only one.
    let path = format!("/api/v1/invoices/{invoice}/submit");
    let no_key = api.call(Method::POST, &path, None, None).await;
    assert_eq!(no_key.status, 400);
    assert_eq!(no_key.body["code"], "idempotency_key_missing");
    let submitted = api.call(Method::POST, &path, None, Some("send-1")).await;
    assert_eq!(submitted.status, 202, "{}", submitted.body);
    assert_eq!(submitted.body["submission"]["state"], "queued");
    let replay = api.call(Method::POST, &path, None, Some("send-1")).await;
    assert_eq!(replay.status, 202);
    assert_eq!(replay.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(replay.body, submitted.body);
    let other_request = api
        .call(
            Method::POST,
            &format!("/api/v1/invoices/{}/submit", id_of(&from_customer)),
            None,
            Some("send-1"),
        )
        .await;
    assert_eq!(other_request.status, 422);
    assert_eq!(other_request.body["code"], "idempotency_key_reused");
    // A new key on a queued invoice: the table of actions refuses it (409, both languages).
    let again = api.call(Method::POST, &path, None, Some("send-2")).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.body["code"], "refused");
    assert!(!again.body["detail_fr"].as_str().unwrap().is_empty());

    wait_until("the invoice sent and delivered", async || {
        let current = api.get(&format!("/api/v1/invoices/{invoice}")).await;
        current.body["submission"]["state"] == "sent"
    })
    .await;
    sandbox.advance();
    wait_until("statuses in the timeline", async || {
        let current = api.get(&format!("/api/v1/invoices/{invoice}")).await;
        current.body["summary"]["headline"]["code"]
            .as_u64()
            .is_some()
    })
    .await;
    let shown = api.get(&format!("/api/v1/invoices/{invoice}")).await;
    assert!(!shown.body["timeline"].as_array().unwrap().is_empty());
    assert_eq!(shown.body["summary"]["needs_action"], false);
    // A sent invoice cannot be edited: the table's refusal, as a problem.
    let edit = api
        .put(&format!("/api/v1/invoices/{invoice}"), &changed)
        .await;
    assert_eq!(edit.status, 409);
    assert_eq!(edit.body["refusal"]["action"], "edit");

    // Lists, filters, keyset cursor, lookup by number.
    let all = api.get("/api/v1/invoices?limit=1").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1);
    let next = all.body["next_cursor"].as_str().unwrap().to_owned();
    let page_two = api
        .get(&format!("/api/v1/invoices?limit=1&cursor={next}"))
        .await;
    assert_eq!(page_two.body["items"].as_array().unwrap().len(), 1);
    assert_ne!(page_two.body["items"][0]["id"], all.body["items"][0]["id"]);
    let drafts = api.get("/api/v1/invoices?state=draft").await;
    assert_eq!(drafts.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(drafts.body["items"][0]["id"], id_of(&from_customer));
    assert_eq!(api.get("/api/v1/invoices?state=nonsense").await.status, 400);
    assert_eq!(
        api.get("/api/v1/invoices?sort=total_desc&needs_action=false")
            .await
            .status,
        200
    );
    let found = api
        .get(&format!("/api/v1/invoices/lookup?number={number}"))
        .await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["id"], invoice);
    assert_eq!(
        api.get("/api/v1/invoices/lookup?number=NOPE").await.status,
        404
    );

    // Payments: checked like the page, idempotent.
    let payments = format!("/api/v1/invoices/{invoice}/payments");
    let too_much = api
        .call(
            Method::POST,
            &payments,
            Some(&json!({"amount": "9999", "paid_on": today(), "method": "transfer"})),
            Some("pay-0"),
        )
        .await;
    assert_eq!(too_much.status, 422, "{}", too_much.body);
    assert_eq!(too_much.body["problems"][0]["field"], "amount");
    let bad_payment = api
        .call(
            Method::POST,
            &payments,
            Some(&json!({"amount": "abc", "paid_on": "2999-01-01", "method": "gold"})),
            Some("pay-x"),
        )
        .await;
    assert_eq!(bad_payment.status, 422);
    assert_eq!(bad_payment.body["problems"].as_array().unwrap().len(), 3);
    let payment =
        json!({"amount": "100.00", "paid_on": today(), "method": "transfer", "reference": "VIR-1"});
    let paid = api
        .call(Method::POST, &payments, Some(&payment), Some("pay-1"))
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    let paid_again = api
        .call(Method::POST, &payments, Some(&payment), Some("pay-1"))
        .await;
    assert_eq!(paid_again.body, paid.body);
    let listed = api.get(&payments).await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "one payment for two calls"
    );
    let draft_payment = api
        .call(
            Method::POST,
            &format!("/api/v1/invoices/{}/payments", id_of(&from_customer)),
            Some(&payment),
            Some("pay-2"),
        )
        .await;
    assert_eq!(draft_payment.status, 409);

    // The feed of events: all of them from the start, then nothing new after the last cursor.
    let feed = api.get("/api/v1/events?limit=100").await;
    let items = feed.body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|event| event["invoice_id"] == invoice));
    let cursor = feed.body["next_cursor"].as_str().unwrap().to_owned();
    // Asked again from the last cursor: only what came since (the payment's report may have added some).
    let after = api.get(&format!("/api/v1/events?after={cursor}")).await;
    let known: BTreeSet<&str> = items
        .iter()
        .map(|event| event["id"].as_str().unwrap())
        .collect();
    for event in after.body["items"].as_array().unwrap() {
        assert!(
            !known.contains(event["id"].as_str().unwrap()),
            "an event given twice"
        );
        assert!(event["received_at"].as_str() >= items.last().unwrap()["received_at"].as_str());
    }
    if after.body["items"].as_array().unwrap().is_empty() {
        assert_eq!(after.body["next_cursor"], cursor);
    }
    let first = api.get("/api/v1/events?limit=1").await;
    let second = api
        .get(&format!(
            "/api/v1/events?limit=1&after={}",
            first.body["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(second.body["items"][0]["id"], items[1]["id"]);
    assert_eq!(api.get("/api/v1/events?after=garbage").await.status, 400);

    // Unknown paths are problems too; the page for people lists every operation.
    let unknown = reqwest::Client::new()
        .get(format!("{}/api/v1/nothing-here", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.headers()["content-type"],
        "application/problem+json"
    );
    let docs = app.get("/api/v1/docs").await;
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("/api/v1/invoices/{id}/submit"));

    contract.assert_every_operation_succeeded();
    app.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn tokens_act_for_their_company_only_read_tokens_cannot_write_and_revoked_ones_are_refused() {
    let app = TestApp::spawn().await;
    app.world().await;
    let contract = Contract::load(&app).await;
    let acme_token = make_token(&app, "admin@acme.fr", "acme", "ERP", "read_write").await;
    let acme_reader = make_token(&app, "admin@acme.fr", "acme", "BI", "read").await;
    let globex_token = make_token(
        &app,
        "admin@globex.fr",
        "globex",
        "Globex ERP",
        "read_write",
    )
    .await;
    let acme = Client::new(&app, &contract, &acme_token);
    let reader = Client::new(&app, &contract, &acme_reader);
    let globex = Client::new(&app, &contract, &globex_token);

    let customer = id_of(
        &acme
            .post(
                "/api/v1/customers",
                &customer_body("Globex SARL", BUYER_SIREN),
            )
            .await,
    );
    let created = acme
        .post(
            "/api/v1/invoices",
            &invoice_body(&format!("F{}-00001", year())),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let invoice = id_of(&created);
    let number = created.body["number"].as_str().unwrap().to_owned();

    // Another company's token: every id of acme is unknown, reading or writing.
    let payment = json!({"amount": "1", "paid_on": today(), "method": "transfer"});
    let cases: Vec<(Method, String, Option<Value>, Option<&str>)> = vec![
        (
            Method::GET,
            format!("/api/v1/customers/{customer}"),
            None,
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/customers/{customer}"),
            Some(customer_body("X", BUYER_SIREN)),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/invoices/{invoice}"),
            None,
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/invoices/{invoice}"),
            Some(invoice_body("F-X")),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/invoices/{invoice}/submit"),
            None,
            Some("k1"),
        ),
        (
            Method::GET,
            format!("/api/v1/invoices/{invoice}/payments"),
            None,
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/invoices/{invoice}/payments"),
            Some(payment.clone()),
            Some("k2"),
        ),
        (
            Method::GET,
            format!("/api/v1/invoices/lookup?number={number}"),
            None,
            None,
        ),
    ];
    for (method, path, body, key) in &cases {
        let answer = globex.call(method.clone(), path, body.as_ref(), *key).await;
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.body);
        assert_eq!(answer.body["code"], "not_found");
    }
    // Globex's lists hold nothing of acme's.
    assert!(
        globex.get("/api/v1/customers").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        globex.get("/api/v1/invoices").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        globex.get("/api/v1/events").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A read token reads, and every write is refused before anything is looked at.
    assert_eq!(
        reader
            .get(&format!("/api/v1/invoices/{invoice}"))
            .await
            .status,
        200
    );
    let writes: Vec<(Method, String, Option<Value>, Option<&str>)> = vec![
        (
            Method::POST,
            "/api/v1/customers".to_owned(),
            Some(customer_body("Y", BUYER_SIREN)),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/customers/{customer}"),
            Some(customer_body("Y", BUYER_SIREN)),
            None,
        ),
        (
            Method::POST,
            "/api/v1/invoices".to_owned(),
            Some(invoice_body("F-Y")),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/invoices/{invoice}"),
            Some(invoice_body("F-Y")),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/invoices/{invoice}/submit"),
            None,
            Some("k3"),
        ),
        (
            Method::POST,
            format!("/api/v1/invoices/{invoice}/payments"),
            Some(payment.clone()),
            Some("k4"),
        ),
    ];
    for (method, path, body, key) in &writes {
        let answer = reader.call(method.clone(), path, body.as_ref(), *key).await;
        assert_eq!(answer.status, 403, "{method} {path}");
        assert_eq!(answer.body["code"], "forbidden");
    }
    let still = acme.get(&format!("/api/v1/invoices/{invoice}")).await;
    assert_eq!(still.body["submission"]["state"], "draft");
    assert_eq!(still.body["number"], number);

    // No token, an unknown one, a browser's session: 401, with the scheme to use.
    let unknown = Client::new(
        &app,
        &contract,
        "pt_0000000000000000000000000000000000000000000000000000000000000000",
    );
    assert_eq!(unknown.get("/api/v1/invoices").await.status, 401);
    let anonymous = reqwest::Client::new()
        .get(format!("{}/api/v1/invoices", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let with_cookie = member
        .client
        .post(format!("{}/api/v1/customers", app.address))
        .json(&customer_body("Cookie Corp", BUYER_SIREN))
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_cookie.status(),
        401,
        "a session cookie never reaches the API"
    );

    // The settings page: admins only, the company's own tokens, last use shown, revocation audited.
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let html = admin
        .get("/t/acme/settings/api-tokens")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("ERP") && html.contains("BI"));
    assert!(!html.contains(&acme_token), "the secret is shown once only");
    assert!(!html.contains("Globex ERP"));
    assert_eq!(
        member.get("/t/acme/settings/api-tokens").await.status(),
        403
    );
    let globex_admin = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    assert_eq!(
        globex_admin
            .get("/t/acme/settings/api-tokens")
            .await
            .status(),
        404
    );
    let acme_ids: Vec<uuid::Uuid> = portal_persistence::entities::api_tokens::Entity::find()
        .all(&app.test_db.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.name == "ERP")
        .map(|row| {
            assert!(row.last_used_at.is_some(), "its last use is kept");
            assert_eq!(row.token_hash.len(), 64);
            assert_ne!(row.token_hash, acme_token);
            row.id
        })
        .collect();
    let erp = acme_ids[0];
    let cross = globex_admin
        .submit(
            "/t/globex/settings/api-tokens",
            &format!("/t/globex/settings/api-tokens/{erp}/revoke"),
            &[],
        )
        .await;
    assert_eq!(
        cross.status(),
        404,
        "another company's token cannot be revoked"
    );
    let cross_page = globex_admin
        .submit(
            "/t/globex/settings/api-tokens",
            &format!("/t/acme/settings/api-tokens/{erp}/revoke"),
            &[],
        )
        .await;
    assert_eq!(cross_page.status(), 404);
    assert_eq!(acme.get("/api/v1/invoices").await.status, 200);
    let revoked = admin
        .submit(
            "/t/acme/settings/api-tokens",
            &format!("/t/acme/settings/api-tokens/{erp}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status(), 303);
    let after = acme.get("/api/v1/invoices").await;
    assert_eq!(after.status, 401);
    assert_eq!(after.body["code"], "unauthorized");
    let actions: Vec<String> = audit_log::Entity::find()
        .filter(audit_log::Column::Action.starts_with("api_token."))
        .all(&app.test_db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.action)
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "api_token.created").count(),
        3
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "api_token.revoked").count(),
        1
    );
    // A form without a name or rights changes nothing.
    let empty = admin
        .submit(
            "/t/acme/settings/api-tokens",
            "/t/acme/settings/api-tokens",
            &[("name", " "), ("scope", "read")],
        )
        .await;
    assert_eq!(empty.status(), 422);
    let bad_scope = admin
        .submit(
            "/t/acme/settings/api-tokens",
            "/t/acme/settings/api-tokens",
            &[("name", "x"), ("scope", "admin")],
        )
        .await;
    assert_eq!(bad_scope.status(), 422);
    // Without its CSRF token, the form is refused like every other one.
    let forged = admin
        .post_without_token(
            "/t/acme/settings/api-tokens",
            &[("name", "forged"), ("scope", "read_write")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        portal_persistence::entities::api_tokens::Entity::find()
            .all(&app.test_db.db)
            .await
            .unwrap()
            .len(),
        3
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_submission_replayed_across_restarts_creates_exactly_one_order() {
    let sandbox = sandbox().await;
    let app = app_with_billit(&sandbox).await;
    let contract = Contract::load(&app).await;
    let token = make_token(&app, "admin@acme.fr", "acme", "ERP", "read_write").await;
    let created = Client::new(&app, &contract, &token)
        .post(
            "/api/v1/invoices",
            &invoice_body(&format!("F{}-00007", year())),
        )
        .await;
    assert_eq!(created.status, 201);
    let invoice = id_of(&created);
    let submit = format!("/api/v1/invoices/{invoice}/submit");

    // A restart between the draft's creation and its submission.
    let database = app.shutdown().await;
    let app = TestApp::spawn_on(
        database,
        configure(sandbox.base_url()),
        portal::startup::default_registry,
    )
    .await;
    let first = Client::new(&app, &contract, &token)
        .call(Method::POST, &submit, None, Some("erp-7f3a"))
        .await;
    assert_eq!(first.status, 202, "{}", first.body);

    // The client did not hear the answer, and retries after another restart: the first answer again.
    let database = app.shutdown().await;
    let app = TestApp::spawn_on(
        database,
        configure(sandbox.base_url()),
        portal::startup::default_registry,
    )
    .await;
    let api = Client::new(&app, &contract, &token);
    let replay = api
        .call(Method::POST, &submit, None, Some("erp-7f3a"))
        .await;
    assert_eq!(replay.status, 202);
    assert_eq!(replay.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(replay.body, first.body);
    wait_until("the invoice sent", async || {
        api.get(&format!("/api/v1/invoices/{invoice}")).await.body["submission"]["state"] == "sent"
    })
    .await;
    let replay = api
        .call(Method::POST, &submit, None, Some("erp-7f3a"))
        .await;
    assert_eq!(replay.body, first.body, "still the first answer once sent");
    assert_eq!(
        sandbox.orders_of(PARTY_ID).len(),
        1,
        "exactly one order at Billit"
    );
    app.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(
        |mut config| {
            config.api.requests_per_minute = 1;
            config.api.burst = 3;
            config
        },
        |_| portal_app::worker::JobRegistry::new(),
    )
    .await;
    app.world().await;
    let contract = Contract::load(&app).await;
    let token = make_token(&app, "admin@acme.fr", "acme", "ERP", "read").await;
    let other = make_token(&app, "admin@acme.fr", "acme", "BI", "read").await;
    let api = Client::new(&app, &contract, &token);
    for _ in 0..3 {
        assert_eq!(api.get("/api/v1/invoices").await.status, 200);
    }
    let limited = api.get("/api/v1/invoices").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["code"], "rate_limited");
    let wait: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Each token has its own bucket.
    assert_eq!(
        Client::new(&app, &contract, &other)
            .get("/api/v1/invoices")
            .await
            .status,
        200
    );
    app.shutdown().await;
}
