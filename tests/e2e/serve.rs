use crate::process::{Server, Setup};

#[tokio::test]
async fn serve_creates_the_data_dir_answers_and_stops_cleanly_on_sigterm() {
    let setup = Setup::new().await;
    let server = Server::start(setup.command());
    assert!(
        setup.data_dir.join("outbox").is_dir(),
        "mail outbox created"
    );
    let key = setup.data_dir.join("master.key");
    assert!(key.is_file(), "master key generated");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    if setup.database.is_none() {
        assert!(
            setup.data_dir.join("portal.db").is_file(),
            "SQLite database created"
        );
    }
    #[cfg(unix)]
    {
        // The data dir and the outbox are the owner's only, and so is the SQLite database.
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&setup.data_dir), 0o700);
        assert_eq!(mode(&setup.data_dir.join("outbox")), 0o700);
        if setup.database.is_none() {
            assert_eq!(mode(&setup.data_dir.join("portal.db")), 0o600);
        }
    }

    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = client
        .get(format!("{}/readyz", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let home = client.get(&server.base_url).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let body = home.text().await.unwrap();
    assert!(body.contains("/static/css/portal.css?v="), "a styled page");

    let status = server.terminate();
    assert!(
        status.success(),
        "SIGTERM ends with exit code 0: {status:?}"
    );
}

#[tokio::test]
async fn a_second_start_reuses_the_data_dir_and_its_key() {
    let setup = Setup::new().await;
    let first = Server::start(setup.command());
    assert!(first.terminate().success());
    let key = std::fs::read_to_string(setup.data_dir.join("master.key")).unwrap();
    let second = Server::start(setup.command());
    assert!(second.terminate().success());
    assert_eq!(
        std::fs::read_to_string(setup.data_dir.join("master.key")).unwrap(),
        key
    );
}
