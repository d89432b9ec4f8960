//! Safe to put on the internet (issue 18): sign-in under attack, `next`, tokens kept out of logs, invitations that
//! can be revoked or die with the member, the live stream that ends with the session, and what a reverse proxy
//! needs (client address, HSTS, no-store, Secure cookies, 413). Over real HTTP, on SQLite or PostgreSQL.

use crate::helpers::{PASSWORD, TestApp, Visitor, csrf_of};
use crate::logs::Capture;
use portal_app::worker::JobRegistry;
use portal_persistence::entities::{login_throttle, memberships};
use portal_persistence::outbox::OutboxRepository;
use sea_orm::EntityTrait;
use std::time::Duration;

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The newest invitation link in the outbox, as a path.
async fn last_invitation(app: &TestApp) -> String {
    let emails = OutboxRepository::new(app.test_db.db.clone())
        .recent(10)
        .await
        .unwrap();
    let prefix = format!("{}/invitations/", app.address);
    let email = emails.first().expect("an email was queued");
    let start = email.email.text_body.find(&prefix).expect("a link");
    email.email.text_body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_start_matches(&app.address)
        .to_owned()
}

/// A sign-in from `address` (the app trusts 127.0.0.1 as its proxy), with the visitor's CSRF token.
async fn login_from(
    visitor: &Visitor<'_>,
    address: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let token = csrf_of(&visitor.get("/login").await.text().await.unwrap());
    visitor
        .client
        .post(format!("{}/login", visitor.app.address))
        .header("X-Forwarded-For", address)
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap()
}

async fn behind_a_proxy() -> TestApp {
    TestApp::spawn_with(
        |mut config| {
            config.server.trusted_proxies = vec!["127.0.0.1".to_owned()];
            config
        },
        |_| JobRegistry::new(),
    )
    .await
}

async fn throttle_keys(app: &TestApp) -> Vec<String> {
    login_throttle::Entity::find()
        .all(&app.test_db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.key)
        .collect()
}

#[tokio::test]
async fn next_never_sends_anyone_off_the_site() {
    let app = TestApp::spawn().await;
    app.world().await;
    let signed_out = Visitor::new(&app);
    let user = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let refused = [
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%5C/evil.example",
        "/%5Cevil.example",
        "%5C%5Cevil.example",
        "//evil.example",
        "https://evil.example/",
        "/x%0D%0ASet-Cookie:%20a=b",
        "/x%00",
        "/a%5Cb",
    ];
    for next in refused {
        // Signed in: straight to `next`, which must be this site's root instead.
        let response = user.get(&format!("/login?next={next}")).await;
        assert_eq!(response.status(), 303, "next={next}");
        assert_eq!(location(&response), "/", "next={next}");
        // Signed out: the form carries `/`, never the value.
        let response = signed_out.get(&format!("/login?next={next}")).await;
        assert_eq!(response.status(), 200, "next={next}");
        let page = response.text().await.unwrap();
        assert!(page.contains(r#"name="next" value="/""#), "next={next}");
    }
    // The sign-in form's own `next` field is checked the same way.
    for next in ["/\t/evil.example", "/\r\n/x", "/x\0", "/\\evil.example"] {
        let visitor = Visitor::new(&app);
        let response = visitor
            .submit(
                "/login",
                "/login",
                &[
                    ("email", "admin@acme.fr"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(response.status(), 303, "next={next:?}");
        assert_eq!(location(&response), "/", "next={next:?}");
    }
    // A path of this site still works.
    let response = user.get("/login?next=/t/acme/settings").await;
    assert_eq!(location(&response), "/t/acme/settings");
    app.shutdown().await;
}

#[tokio::test]
async fn concurrent_wrong_guesses_never_exceed_the_limit() {
    let app = TestApp::spawn().await;
    app.world().await;
    let attacker = Visitor::new(&app);
    let token = csrf_of(&attacker.get("/login").await.text().await.unwrap());
    let guesses: Vec<_> = (0..40)
        .map(|n| {
            let client = attacker.client.clone();
            let url = format!("{}/login", app.address);
            let token = token.clone();
            tokio::spawn(async move {
                client
                    .post(url)
                    .form(&[
                        ("email", "admin@acme.fr"),
                        ("password", format!("wrong guess number {n}").as_str()),
                        ("csrf_token", token.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut checked = 0;
    let mut refused = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            401 => checked += 1,
            429 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    let limit = app.state.throttle.policy().lock_after;
    assert!(
        (1..=limit).contains(&checked),
        "{checked} passwords were checked (at most {limit})"
    );
    assert_eq!(checked + refused, 40);
    let failed_entries = portal_persistence::entities::audit_log::Entity::find()
        .all(&app.test_db.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.action == "login.failed")
        .count();
    assert_eq!(failed_entries, usize::try_from(checked).unwrap());
    app.shutdown().await;
}

#[tokio::test]
async fn the_owner_signs_in_from_a_clean_address_while_the_guesser_is_walled() {
    let app = behind_a_proxy().await;
    app.world().await;
    let attacker = Visitor::new(&app);
    // Ten failures on the account, from ten addresses.
    for n in 1..=10 {
        let response = login_from(
            &attacker,
            &format!("203.0.113.{n}"),
            "admin@acme.fr",
            "wrong password 123",
        )
        .await;
        assert_eq!(response.status(), 401, "guess {n}");
    }
    // The owner, from an address that never failed: signed in (after a short pause), not walled.
    let owner = Visitor::new(&app);
    let response = login_from(&owner, "198.51.100.20", "admin@acme.fr", PASSWORD).await;
    assert_eq!(response.status(), 303, "the owner signs in");
    // A guessing address gets a couple more tries, then a wall, even with the right password.
    let guesser = "203.0.113.1";
    for _ in 0..2 {
        let response = login_from(&attacker, guesser, "admin@acme.fr", "wrong password 456").await;
        assert_eq!(response.status(), 401);
    }
    let walled = login_from(&attacker, guesser, "admin@acme.fr", PASSWORD).await;
    assert_eq!(walled.status(), 429);
    // Other accounts behind the same address are not locked by its failures.
    let colleague = login_from(&attacker, guesser, "member@acme.fr", PASSWORD).await;
    assert_eq!(colleague.status(), 303);
    app.shutdown().await;
}

#[tokio::test]
async fn a_shared_address_never_locks_a_clean_account() {
    let app = behind_a_proxy().await;
    app.world().await;
    let office = "192.0.2.50";
    let visitor = Visitor::new(&app);
    // Someone behind the office proxy fails a lot on several (also unknown) accounts.
    for (n, email) in ["nobody@acme.fr", "viewer@acme.fr", "ghost@acme.fr"]
        .iter()
        .cycle()
        .take(12)
        .enumerate()
    {
        let response = login_from(&visitor, office, email, &format!("wrong {n} password")).await;
        assert!(
            matches!(response.status().as_u16(), 401 | 429),
            "{}",
            response.status()
        );
    }
    // A colleague with a clean account, behind the same address, signs in.
    let colleague = Visitor::new(&app);
    let response = login_from(&colleague, office, "member@acme.fr", PASSWORD).await;
    assert_eq!(response.status(), 303);
    app.shutdown().await;
}

#[tokio::test]
async fn x_forwarded_for_is_read_only_from_a_trusted_proxy() {
    // Not trusted (the default): the header is anyone's to write, so the peer is the client.
    let app = TestApp::spawn().await;
    app.world().await;
    let visitor = Visitor::new(&app);
    let response = login_from(&visitor, "203.0.113.9", "admin@acme.fr", "wrong password 1").await;
    assert_eq!(response.status(), 401);
    let keys = throttle_keys(&app).await;
    assert!(keys.contains(&"ip:127.0.0.1".to_owned()), "{keys:?}");
    assert!(
        !keys.iter().any(|key| key.contains("203.0.113.9")),
        "{keys:?}"
    );
    app.shutdown().await;

    // From a trusted proxy: the rightmost address that is not a trusted proxy (what the client wrote to its left
    // is not believed).
    let app = behind_a_proxy().await;
    app.world().await;
    let visitor = Visitor::new(&app);
    let response = login_from(
        &visitor,
        "198.51.100.66, 203.0.113.9, 127.0.0.1",
        "admin@acme.fr",
        "wrong password 1",
    )
    .await;
    assert_eq!(response.status(), 401);
    let keys = throttle_keys(&app).await;
    assert!(keys.contains(&"ip:203.0.113.9".to_owned()), "{keys:?}");
    assert!(
        !keys.iter().any(|key| key.contains("198.51.100.66")),
        "{keys:?}"
    );
    assert!(!keys.contains(&"ip:127.0.0.1".to_owned()), "{keys:?}");
    app.shutdown().await;
}

/// A proxy network (CIDR) is trusted like a single proxy: the loopback network `127.0.0.0/8` covers the test
/// client's 127.0.0.1 and the hop `127.0.0.9` it forwards through; a network that does not hold the peer is not.
#[tokio::test]
async fn a_trusted_proxy_network_is_read_like_a_trusted_proxy() {
    let app = TestApp::spawn_with(
        |mut config| {
            config.server.trusted_proxies = vec!["127.0.0.0/8".to_owned(), "fd00::/8".to_owned()];
            config
        },
        |_| JobRegistry::new(),
    )
    .await;
    app.world().await;
    let visitor = Visitor::new(&app);
    let response = login_from(
        &visitor,
        "198.51.100.66, 203.0.113.9, 127.0.0.9",
        "admin@acme.fr",
        "wrong password 1",
    )
    .await;
    assert_eq!(response.status(), 401);
    let keys = throttle_keys(&app).await;
    assert!(keys.contains(&"ip:203.0.113.9".to_owned()), "{keys:?}");
    assert!(
        !keys
            .iter()
            .any(|key| key.contains("127.0.0") || key.contains("198.51.100.66")),
        "{keys:?}"
    );
    app.shutdown().await;

    // A network that does not hold the peer: the header is not read.
    let app = TestApp::spawn_with(
        |mut config| {
            config.server.trusted_proxies = vec!["10.0.0.0/8".to_owned()];
            config
        },
        |_| JobRegistry::new(),
    )
    .await;
    app.world().await;
    let visitor = Visitor::new(&app);
    let response = login_from(&visitor, "203.0.113.9", "admin@acme.fr", "wrong password 1").await;
    assert_eq!(response.status(), 401);
    let keys = throttle_keys(&app).await;
    assert!(keys.contains(&"ip:127.0.0.1".to_owned()), "{keys:?}");
    assert!(
        !keys.iter().any(|key| key.contains("203.0.113.9")),
        "{keys:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn passwords_over_one_kib_are_refused_unhashed() {
    let app = TestApp::spawn().await;
    app.world().await;
    let visitor = Visitor::new(&app);
    let long = "a".repeat(1025);
    let response = visitor.login("admin@acme.fr", &long).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("1024 octets"));
    assert!(throttle_keys(&app).await.is_empty(), "nothing was counted");
    // 1 KiB exactly is a password like another (wrong here).
    let response = visitor.login("admin@acme.fr", &"a".repeat(1024)).await;
    assert_eq!(response.status(), 401);

    // Choosing one through an invitation: refused as well, and nothing is created.
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    admin
        .submit(
            "/t/acme/settings/users",
            "/t/acme/settings/users/invite",
            &[("email", "long@acme.fr"), ("role", "member")],
        )
        .await;
    let link = last_invitation(&app).await;
    let invited = Visitor::new(&app);
    let response = invited
        .submit(
            &link,
            &link,
            &[
                ("name", "Long"),
                ("password", &long),
                ("password_confirmation", &long),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        app.state
            .users
            .find_by_email("long@acme.fr")
            .await
            .unwrap()
            .is_none()
    );
    app.shutdown().await;
}

#[tokio::test]
async fn request_logs_name_the_route_never_the_token() {
    let app = TestApp::spawn().await;
    app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    admin
        .submit(
            "/t/acme/settings/users",
            "/t/acme/settings/users/invite",
            &[("email", "logged@acme.fr"), ("role", "member")],
        )
        .await;
    let link = last_invitation(&app).await;
    let token = link.trim_start_matches("/invitations/").to_owned();
    let reset_token = "a".repeat(43);
    let hook_token = "b".repeat(43);

    let capture = Capture::start();
    let visitor = Visitor::new(&app);
    assert_eq!(visitor.get(&link).await.status(), 200);
    // Refused for its CSRF token: logged as a warning, also without the token.
    let forged = visitor
        .post_without_token(&link, &[("name", "x"), ("password", "y")])
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        visitor
            .get(&format!("/password/reset/{reset_token}"))
            .await
            .status(),
        410
    );
    let hook = visitor
        .client
        .post(format!("{}/hooks/billit/{hook_token}", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(hook.status().is_client_error());
    // The log line is written once the response is sent: give it a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = capture.text();
    drop(capture);
    assert!(
        logs.contains("route=/invitations/{token}"),
        "the request is logged by its route:\n{logs}"
    );
    assert!(logs.contains("route=/password/reset/{token}"), "{logs}");
    for secret in [&token, &reset_token, &hook_token] {
        assert!(
            !logs.contains(secret.as_str()),
            "a token was logged:\n{logs}"
        );
    }
    app.shutdown().await;
}

/// The revoke button's address on the users page, for `email`'s pending invitation.
fn revoke_action(page: &str, email: &str) -> Option<String> {
    let at = page.find(email)?;
    let rest = &page[at..];
    let start = rest.find("/t/acme/settings/users/invitations/")?;
    let action = &rest[start..];
    Some(action[..action.find('"')?].to_owned())
}

#[tokio::test]
async fn a_revoked_invitation_no_longer_opens_the_company() {
    let app = TestApp::spawn().await;
    app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    admin
        .submit(
            "/t/acme/settings/users",
            "/t/acme/settings/users/invite",
            &[("email", "mistake@example.com"), ("role", "admin")],
        )
        .await;
    let link = last_invitation(&app).await;
    let page = admin
        .get("/t/acme/settings/users")
        .await
        .text()
        .await
        .unwrap();
    let action = revoke_action(&page, "mistake@example.com").expect("a revoke button");

    // Another company's admin can neither see nor revoke it (404, GET and POST), under either slug.
    let outsider = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    let token = csrf_of(&outsider.get("/t/globex/").await.text().await.unwrap());
    let foreign = action.replace("/t/acme/", "/t/globex/");
    for path in [&action, &foreign] {
        let response = outsider
            .post_without_token(path, &[("csrf_token", &token)])
            .await;
        assert_eq!(response.status(), 404, "POST {path}");
        assert!(
            matches!(outsider.get(path).await.status().as_u16(), 404 | 405),
            "GET {path}"
        );
    }
    let invited = Visitor::new(&app);
    assert_eq!(invited.get(&link).await.status(), 200, "still valid");

    let revoked = admin.submit("/t/acme/settings/users", &action, &[]).await;
    assert_eq!(revoked.status(), 303);
    let page = admin.get(&location(&revoked)).await.text().await.unwrap();
    assert!(page.contains("Invitation révoquée"));
    assert!(!page.contains("mistake@example.com"), "no longer pending");
    assert_eq!(invited.get(&link).await.status(), 410);
    let response = invited
        .submit(
            "/login",
            &link,
            &[
                ("name", "Mallory"),
                ("password", PASSWORD),
                ("password_confirmation", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 410);
    assert!(
        app.state
            .users
            .find_by_email("mistake@example.com")
            .await
            .unwrap()
            .is_none()
    );
    // Revoking twice: nothing left to revoke.
    assert_eq!(
        admin
            .submit("/t/acme/settings/users", &action, &[])
            .await
            .status(),
        404
    );
    app.shutdown().await;
}

/// The firm's page of a company lists its pending invitations (a first admin's sent by the firm, one a company
/// admin sent) and a firm administrator revokes them there: the link dies, the company's audit log says who did
/// it. Through another company's firm page the invitation is a 404, and a company admin reaches none of it.
#[tokio::test]
async fn a_firm_admin_revokes_a_companys_pending_invitation_from_the_firm_pages() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    app.firm_admin("firm@cabinet.fr").await;
    let firm = Visitor::signed_in(&app, "firm@cabinet.fr", PASSWORD).await;
    let acme_page = format!("/admin/tenants/{}", world.acme.id);
    let globex_page = format!("/admin/tenants/{}", world.globex.id);
    let sent = firm
        .submit(
            &acme_page,
            &format!("{acme_page}/invite"),
            &[("email", "first@wrong.example"), ("language", "fr")],
        )
        .await;
    assert_eq!(sent.status(), 303);
    let first_link = last_invitation(&app).await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    admin
        .submit(
            "/t/acme/settings/users",
            "/t/acme/settings/users/invite",
            &[("email", "colleague@acme.fr"), ("role", "member")],
        )
        .await;
    let colleague_link = last_invitation(&app).await;

    let page = firm.get(&acme_page).await.text().await.unwrap();
    let action = |email: &str| {
        let at = page.find(email).expect("listed");
        let rest = &page[at..];
        let start = rest
            .find(&format!("{acme_page}/invitations/"))
            .expect("a revoke button");
        let action = &rest[start..];
        action[..action.find('"').unwrap()].to_owned()
    };
    let (first, colleague) = (action("first@wrong.example"), action("colleague@acme.fr"));
    assert!(
        !firm
            .get(&globex_page)
            .await
            .text()
            .await
            .unwrap()
            .contains("colleague@acme.fr"),
        "another company's page lists only its own"
    );

    // A company admin (of this company or another) cannot use the firm's page: 404, GET and POST.
    for outsider in ["admin@acme.fr", "admin@globex.fr"] {
        let outsider = Visitor::signed_in(&app, outsider, PASSWORD).await;
        let token = csrf_of(&outsider.get("/t").await.text().await.unwrap());
        assert_eq!(outsider.get(&acme_page).await.status(), 404);
        let response = outsider
            .post_without_token(&first, &[("csrf_token", &token)])
            .await;
        assert_eq!(response.status(), 404);
    }
    // Through another company's firm page: not found, nothing revoked.
    let foreign = colleague.replace(&acme_page, &globex_page);
    let response = firm.submit(&globex_page, &foreign, &[]).await;
    assert_eq!(response.status(), 404);
    // Without a CSRF token: refused.
    assert_eq!(firm.post_without_token(&colleague, &[]).await.status(), 403);
    let invited = Visitor::new(&app);
    assert_eq!(
        invited.get(&colleague_link).await.status(),
        200,
        "still valid"
    );

    for (action, link) in [(&first, &first_link), (&colleague, &colleague_link)] {
        let revoked = firm.submit(&acme_page, action, &[]).await;
        assert_eq!(revoked.status(), 303);
        assert_eq!(location(&revoked), format!("{acme_page}?notice=revoked"));
        assert_eq!(invited.get(link).await.status(), 410, "the link is dead");
    }
    let page = firm.get(&format!("{acme_page}?notice=revoked")).await;
    let page = page.text().await.unwrap();
    assert!(page.contains("Invitation révoquée"));
    assert!(!page.contains("first@wrong.example") && !page.contains("colleague@acme.fr"));
    // Twice: nothing left to revoke.
    assert_eq!(firm.submit(&acme_page, &first, &[]).await.status(), 404);
    // In the company's audit log, by the firm administrator.
    let entries: Vec<_> = portal_persistence::audit::list_all(&app.test_db.db, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.action == "invitation.revoked")
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    for entry in entries {
        assert_eq!(entry.actor_email.as_deref(), Some("firm@cabinet.fr"));
        assert_eq!(entry.tenant_id, Some(world.acme.id));
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_deactivated_member_cannot_come_back_through_an_older_link() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let invite = async || {
        admin
            .submit(
                "/t/acme/settings/users",
                "/t/acme/settings/users/invite",
                &[("email", "Bob@Example.com"), ("role", "member")],
            )
            .await;
        last_invitation(&app).await
    };
    let older = invite().await;
    let newer = invite().await;
    assert_ne!(older, newer);
    let bob = Visitor::new(&app);
    let accepted = bob
        .submit(
            &newer,
            &newer,
            &[
                ("name", "Bob"),
                ("password", PASSWORD),
                ("password_confirmation", PASSWORD),
            ],
        )
        .await;
    assert_eq!(accepted.status(), 303, "accepted, and signed in");
    let bob_id = app
        .state
        .users
        .find_by_email("bob@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let deactivated = admin
        .submit(
            "/t/acme/settings/users",
            &format!("/t/acme/settings/users/{bob_id}"),
            &[("role", "member"), ("active", "false")],
        )
        .await;
    assert_eq!(deactivated.status(), 303);

    // The older link died with the deactivation.
    assert_eq!(bob.get(&older).await.status(), 410);
    // (Bob has an account: the form's password fields stay empty, as the page tells him.)
    let response = bob
        .submit(
            "/login",
            &older,
            &[
                ("name", ""),
                ("password", ""),
                ("password_confirmation", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 410);
    let membership = memberships::Entity::find_by_id((world.acme.id.as_uuid(), bob_id.as_uuid()))
        .one(&app.test_db.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!membership.active, "still deactivated");
    assert_eq!(bob.login("bob@example.com", PASSWORD).await.status(), 303);
    assert_eq!(bob.get("/t/acme/").await.status(), 404);
    app.shutdown().await;
}

/// Reads a live stream until it ends; false when it is still open after `within`.
async fn ends_within(mut stream: reqwest::Response, within: Duration) -> bool {
    tokio::time::timeout(within, async move {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await
    .is_ok()
}

async fn with_short_rechecks() -> TestApp {
    TestApp::spawn_with(
        |mut config| {
            config.security.live_recheck_secs = 1;
            config.security.live_streams_per_user = 2;
            config
        },
        |_| JobRegistry::new(),
    )
    .await
}

#[tokio::test]
async fn the_live_stream_ends_with_the_session_or_the_access() {
    let app = with_short_rechecks().await;
    let world = app.world().await;

    // Signing out ends it.
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let stream = admin.get("/t/acme/live").await;
    assert_eq!(stream.status(), 200);
    let out = admin.submit("/t/acme/", "/logout", &[]).await;
    assert_eq!(out.status(), 303);
    assert!(
        ends_within(stream, Duration::from_secs(5)).await,
        "after sign-out"
    );

    // A member who is deactivated.
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let stream = member.get("/t/acme/live").await;
    assert_eq!(stream.status(), 200);
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let member_id = app
        .state
        .users
        .find_by_email("member@acme.fr")
        .await
        .unwrap()
        .unwrap()
        .id;
    admin
        .submit(
            "/t/acme/settings/users",
            &format!("/t/acme/settings/users/{member_id}"),
            &[("role", "member"), ("active", "false")],
        )
        .await;
    assert!(
        ends_within(stream, Duration::from_secs(5)).await,
        "after deactivation"
    );

    // A suspended company.
    let stream = admin.get("/t/acme/live").await;
    assert_eq!(stream.status(), 200);
    app.state
        .tenants
        .set_active(world.acme.id, false, None)
        .await
        .unwrap();
    assert!(
        ends_within(stream, Duration::from_secs(5)).await,
        "after suspension"
    );
    app.state
        .tenants
        .set_active(world.acme.id, true, None)
        .await
        .unwrap();

    // A stream whose session is still valid stays open.
    let stream = admin.get("/t/acme/live").await;
    assert!(
        !ends_within(stream, Duration::from_millis(2500)).await,
        "still open"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn one_user_keeps_a_bounded_number_of_streams() {
    let app = with_short_rechecks().await;
    app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let first = admin.get("/t/acme/live").await;
    let second = admin.get("/t/acme/live").await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    assert_eq!(admin.get("/t/acme/live").await.status(), 429);
    // Another user is not affected.
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    assert_eq!(member.get("/t/acme/live").await.status(), 200);
    // A closed stream frees its place.
    drop(first);
    let mut reopened = 0;
    for _ in 0..50 {
        let response = admin.get("/t/acme/live").await;
        if response.status() == 200 {
            reopened += 1;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reopened, 1, "the place of a closed stream is given back");
    drop(second);
    app.shutdown().await;
}

#[tokio::test]
async fn behind_https_every_cookie_is_secure_and_hsts_is_sent() {
    let app = TestApp::spawn_with(
        |mut config| {
            config.server.public_url = Some("https://factures.example".to_owned());
            config
        },
        |_| JobRegistry::new(),
    )
    .await;
    // A client without a cookie jar: Secure cookies are not sent back over this test's plain http by a jar.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .get(format!("{}/login", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        login
            .headers()
            .get("strict-transport-security")
            .and_then(|value| value.to_str().ok()),
        Some("max-age=31536000")
    );
    let presession = login
        .cookies()
        .find(|cookie| cookie.name() == "portal_presession")
        .expect("a pre-session cookie");
    assert!(presession.secure());
    let presession = presession.value().to_owned();
    let token = csrf_of(&login.text().await.unwrap());
    let switched = client
        .post(format!("{}/account/language", app.address))
        .header("cookie", format!("portal_presession={presession}"))
        .form(&[("language", "en"), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), 303);
    let lang = switched
        .cookies()
        .find(|cookie| cookie.name() == "lang")
        .expect("a lang cookie");
    assert_eq!(lang.value(), "en");
    assert!(lang.secure(), "the lang cookie is Secure like the others");
    app.shutdown().await;

    // Over plain http (a development machine), no HSTS.
    let app = TestApp::spawn().await;
    assert!(
        app.get("/login")
            .await
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    app.shutdown().await;
}

#[tokio::test]
async fn signed_in_pages_are_never_stored() {
    let app = TestApp::spawn().await;
    app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    for path in ["/t/acme/", "/t/acme/settings/users", "/account"] {
        let response = admin.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .and_then(|value| value.to_str().ok()),
            Some("no-store"),
            "{path}"
        );
    }
    // Static files keep their own caching.
    let css = admin.get("/static/css/portal.css").await;
    if css.status() == 200 {
        assert_ne!(
            css.headers()
                .get("cache-control")
                .and_then(|value| value.to_str().ok()),
            Some("no-store")
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn an_oversized_form_gets_a_clear_413_page() {
    let app = TestApp::spawn().await;
    app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let huge = "x".repeat(300 * 1024);
    let response = admin
        .submit(
            "/t/acme/settings",
            "/t/acme/settings/profile",
            &[
                ("legal_name", huge.as_str()),
                ("street", ""),
                ("postal_code", ""),
                ("city", ""),
                ("country", "FR"),
            ],
        )
        .await;
    assert_eq!(response.status(), 413);
    let page = response.text().await.unwrap();
    assert!(page.contains("Envoi trop volumineux"), "{page}");
    assert!(!page.contains("Formulaire expiré"));
    // Streamed without a length (chunked, over a plain socket): the same answer once the limit is passed.
    let login = app.get("/login").await;
    let presession = login
        .cookies()
        .find(|cookie| cookie.name() == "portal_presession")
        .expect("a pre-session cookie")
        .value()
        .to_owned();
    let token = csrf_of(&login.text().await.unwrap());
    // Just over the limit, so that little is left unread when the server answers.
    let over = "x".repeat(257 * 1024);
    let body = format!("csrf_token={token}&email=admin%40acme.fr&password={over}");
    let mut request = format!(
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: portal_presession={presession}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.as_bytes().chunks(16 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The server may answer (and close) before reading everything: a failed write is not the test's concern.
    let _written = socket.write_all(&request).await;
    let mut answer = Vec::new();
    let _read = socket.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    let acme = app
        .state
        .tenants
        .list_all()
        .await
        .unwrap()
        .into_iter()
        .find(|tenant| tenant.slug == "acme")
        .unwrap();
    assert_eq!(acme.legal_name, "ACME SAS", "nothing changed");
    app.shutdown().await;
}

#[tokio::test]
async fn the_embedded_sandbox_is_offered_only_while_one_runs() {
    // No sandbox runs (production, or `billit.embedded_sandbox = false`): not offered, and refused if posted.
    let app = TestApp::spawn().await;
    let world = app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let page = admin
        .get("/t/acme/settings/billit")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains(r#"value="embedded""#), "not offered");
    assert!(
        page.contains(r#"value="sandbox" checked"#),
        "Billit's sandbox is the default"
    );
    let refused = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit",
            &[
                ("environment", "embedded"),
                ("api_key", "key"),
                ("party_id", ""),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("ne fonctionne pas sur ce portail")
    );
    assert!(
        portal_persistence::entities::billit_connections::Entity::find_by_id(
            world.acme.id.as_uuid()
        )
        .one(&app.test_db.db)
        .await
        .unwrap()
        .is_none(),
        "nothing saved"
    );
    app.shutdown().await;

    // With a sandbox: offered, and the default.
    let app = TestApp::spawn_with(
        |mut config| {
            config.billit.embedded_url = Some("http://127.0.0.1:9".to_owned());
            config
        },
        |_| JobRegistry::new(),
    )
    .await;
    app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let page = admin
        .get("/t/acme/settings/billit")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"value="embedded" checked"#));
    app.shutdown().await;
}
