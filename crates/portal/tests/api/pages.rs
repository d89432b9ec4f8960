use crate::helpers::TestApp;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.state.db.clone().close().await.unwrap();
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "the process itself still answers"
    );
}

#[tokio::test]
async fn the_home_page_is_styled_french_html_with_security_headers() {
    let app = TestApp::spawn().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert!(!headers["x-request-id"].is_empty());

    let body = response.text().await.unwrap();
    assert!(body.contains("<html lang=\"fr\">"));
    assert!(body.contains("Vos factures électroniques"));
    assert!(
        !body.contains("<script>") && !body.contains("style=\""),
        "no inline script or style"
    );

    // The stylesheet the page links to is served, versioned, and cached for long.
    let href = body
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a stylesheet link");
    assert!(href.starts_with("/static/css/portal.css?v="), "{href}");
    let css = app.get(href).await;
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = css.headers()["etag"].to_str().unwrap().to_owned();
    assert!(css.text().await.unwrap().contains("--blue"));

    let unversioned = app.get("/static/css/portal.css").await;
    assert!(
        !unversioned.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let revalidated = app
        .client
        .get(format!("{}/static/css/portal.css", app.address))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_pages_and_files_get_the_styled_404() {
    let app = TestApp::spawn().await;
    for path in ["/nope", "/static/nope.css", "/t/unknown/nope"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(response.headers().contains_key("content-security-policy"));
        let body = response.text().await.unwrap();
        assert!(body.contains("Page introuvable"), "{path}");
        assert!(body.contains("/static/css/portal.css?v="));
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_request_id_from_the_proxy_is_kept_and_a_bad_one_replaced() {
    let app = TestApp::spawn().await;
    let kept = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "abc-123");
    let replaced = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "<script>");
    app.shutdown().await;
}
