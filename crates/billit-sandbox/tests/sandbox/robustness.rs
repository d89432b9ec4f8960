//! Malformed requests are refused Billit-style, never a panic.

use crate::support::{raw, sandbox};
use reqwest::Method;
use serde_json::Value;

async fn status_and_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["errors"][0]["Code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn bad_json_wrong_types_and_huge_bodies() {
    let sandbox = sandbox().await;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("/v1/orders", b"{not json".to_vec(), 400),
        (
            "/v1/orders",
            br#"{"OrderNumber": 12, "OrderLines": "x"}"#.to_vec(),
            400,
        ),
        ("/v1/orders", br#"[]"#.to_vec(), 400),
        ("/v1/orders", b"".to_vec(), 400),
        (
            "/v1/orders/commands/send",
            br#"{"OrderIDs": ["a"]}"#.to_vec(),
            400,
        ),
        (
            "/v1/orders/commands/send",
            br#"{"TransportType": "Email", "OrderIDs": [1]}"#.to_vec(),
            400,
        ),
        (
            "/v1/orders/1/payments",
            br#"{"Amount": "lots"}"#.to_vec(),
            400,
        ),
        ("/v1/webhooks", br#"{"EntityType": 5}"#.to_vec(), 400),
        ("/v1/orders", vec![b' '; 5 * 1024 * 1024], 413),
    ];
    for (path, body, expected) in cases {
        let response = raw(&sandbox, Method::POST, path)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, code) = status_and_code(response).await;
        assert_eq!(status, expected, "{path}");
        assert!(!code.is_empty(), "{path}: Billit-style error body");
    }
    for (method, path) in [
        (Method::GET, "/v1/orders/abc"),
        (Method::GET, "/v1/orders/99999999999999999999"),
        (Method::PATCH, "/v1/orders/1"),
        (Method::GET, "/v1/nothing"),
        (Method::GET, "/v1/orders?$top=abc"),
        (
            Method::GET,
            "/v1/orders?$filter=LastModified%20ge%20DateTime'nope'",
        ),
        (
            Method::GET,
            "/v1/orders?$filter=OrderNumber%20eq%20'unterminated",
        ),
    ] {
        let response = raw(&sandbox, method, path).send().await.unwrap();
        let (status, code) = status_and_code(response).await;
        assert!((400..500).contains(&status), "{path}: {status}");
        assert!(!code.is_empty(), "{path}");
    }
    // Still alive.
    let response = raw(&sandbox, Method::GET, "/v1/account/accountInformation")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn control_api_refuses_bad_input() {
    let sandbox = sandbox().await;
    let http = reqwest::Client::new();
    let base = sandbox.base_url();
    for (path, body) in [
        ("/_sandbox/parties", r#"{"PartyID": "x"}"#),
        ("/_sandbox/parties", r#"{"PartyID": 0, "ApiKey": ""}"#),
        ("/_sandbox/orders/1/events", r#"{"code": 208}"#),
        ("/_sandbox/orders/abc/events", r#"{"code": 208}"#),
    ] {
        let response = http
            .post(format!("{base}{path}"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert!((400..500).contains(&response.status().as_u16()), "{path}");
    }
    let response = http
        .put(format!("{base}/_sandbox/faults"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("billit-sandbox-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let config = billit_sandbox::SandboxConfig {
        step_ms: 3_600_000,
        state_file: Some(file.clone()),
        ..billit_sandbox::SandboxConfig::default()
    };
    let first = crate::support::sandbox_with(config.clone()).await;
    let client = crate::support::client(&first);
    use portal_billit::client::BillitClient;
    let id = client
        .create_order(&crate::support::invoice("STATE-1", "_DEMO"), "s")
        .await
        .unwrap();
    client.send_orders(&[id], "Peppol").await.unwrap();
    first.shutdown().await;
    let second = billit_sandbox::Sandbox::start(config).await.unwrap();
    second.advance();
    let order = crate::support::client(&second).get_order(id).await.unwrap();
    assert_eq!(order.order_number.as_deref(), Some("STATE-1"));
    assert!(!order.messages().is_empty());
    second.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn random_bodies_and_paths_never_break_the_server() {
    use rand::{Rng, SeedableRng};
    let sandbox = sandbox().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let paths = [
        "/v1/orders",
        "/v1/orders/commands/send",
        "/v1/orders/1000002/payments",
        "/v1/webhooks",
        "/v1/orders?$filter=",
        "/_sandbox/parties",
        "/_sandbox/orders/1000002/events",
    ];
    let tokens = [
        "{",
        "}",
        "[",
        "]",
        "\"OrderNumber\"",
        "\"OrderLines\"",
        ":",
        ",",
        "1e400",
        "-1",
        "null",
        "\"VATPercentage\"",
        "\"Quantity\"",
        "99999999999999999999999999999",
        "\"DateTime'€'\"",
        "\"é\"",
        "true",
        "\"Customer\"",
        "\"Identifiers\"",
        "{\"Name\":\"x\"}",
        "\"code\"",
        "208",
    ];
    for round in 0..300 {
        let path = paths[rng.random_range(0..paths.len())];
        let body: String = (0..rng.random_range(0..24))
            .map(|_| tokens[rng.random_range(0..tokens.len())])
            .collect();
        let (method, path) = if path.ends_with("$filter=") {
            (
                Method::GET,
                format!("{path}{}", body.replace(' ', "%20").replace('#', "%23")),
            )
        } else {
            (Method::POST, path.to_owned())
        };
        let response = raw(&sandbox, method, &path)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().as_u16() < 500,
            "round {round}: {path} {body}"
        );
    }
    let response = raw(&sandbox, Method::GET, "/v1/account/accountInformation")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn huge_amounts_are_refused_not_overflowed() {
    let sandbox = sandbox().await;
    let body = serde_json::json!({
        "OrderNumber": "BIG-1",
        "Customer": {"Name": "C", "Identifiers": [{"SchemeID": "0225", "Identifier": "1"}]},
        "OrderLines": [{"Quantity": 79228162514264337593543950335u128.to_string(), "UnitPriceExcl": 1e20, "VATPercentage": 20}]
    });
    let response = raw(&sandbox, Method::POST, "/v1/orders")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, code) = status_and_code(response).await;
    assert_eq!((status, code.as_str()), (400, "AmountOutOfRange"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_binary_serves_billit() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_billit-sandbox"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--step-ms",
            "50",
            "--party-id",
            "7",
            "--api-key",
            "k",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    let denied = reqwest::get(format!("{base}/v1/account/accountInformation"))
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let info = reqwest::Client::new()
        .get(format!("{base}/v1/account/accountInformation"))
        .header("ApiKey", "k")
        .header("PartyID", "7")
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    child.kill().unwrap();
    let _ = child.wait();
}
