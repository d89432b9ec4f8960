//! Accounts over real HTTP: sign-in, sessions, CSRF, throttling, invitations, resets, roles, tenant isolation.

use crate::helpers::{PASSWORD, TestApp, Visitor, csrf_of};
use portal_persistence::entities::{billit_connections, memberships, sessions};
use portal_persistence::outbox::OutboxRepository;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

/// The link of the newest email in the outbox (read from the stored email, as the recipient would see it).
async fn last_link(app: &TestApp, prefix: &str) -> String {
    let emails = OutboxRepository::new(app.test_db.db.clone())
        .recent(10)
        .await
        .unwrap();
    let email = emails.first().expect("an email was queued");
    let start = email
        .email
        .text_body
        .find(prefix)
        .expect("the email has the link");
    email.email.text_body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_start_matches(&app.address)
        .to_owned()
}

#[tokio::test]
async fn signing_in_and_out() {
    let app = TestApp::spawn().await;
    app.world().await;
    let visitor = Visitor::new(&app);

    let protected = visitor.get("/t/acme/").await;
    assert_eq!(protected.status(), 303);
    assert_eq!(protected.headers()["location"], "/login?next=/t/acme/");

    let wrong = visitor
        .login("member@acme.fr", "not the password at all")
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Adresse électronique ou mot de passe incorrect.")
    );
    let unknown = visitor.login("nobody@acme.fr", PASSWORD).await;
    assert_eq!(unknown.status(), 401);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("Adresse électronique ou mot de passe incorrect."),
        "same message"
    );

    let ok = visitor.login("MEMBER@acme.fr", PASSWORD).await;
    assert_eq!(ok.status(), 303);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(visitor.get("/").await.headers()["location"], "/t/acme/");
    let home = visitor.get("/t/acme/").await;
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("ACME SAS"));

    let out = visitor.submit("/t/acme/", "/logout", &[]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(visitor.get("/t/acme/").await.status(), 303, "signed out");
    app.shutdown().await;
}

#[tokio::test]
async fn sessions_expire_when_idle_and_can_all_be_ended() {
    let app = TestApp::spawn().await;
    app.world().await;
    let first = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let second = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;

    // Make every session look idle for three hours.
    for session in sessions::Entity::find().all(&app.test_db.db).await.unwrap() {
        let mut active: sessions::ActiveModel = session.into();
        active.last_seen_at = Set(chrono::Utc::now() - chrono::Duration::hours(3));
        active.update(&app.test_db.db).await.unwrap();
    }
    assert_eq!(
        first.get("/t/acme/").await.status(),
        303,
        "idle session refused"
    );
    assert!(
        sessions::Entity::find()
            .all(&app.test_db.db)
            .await
            .unwrap()
            .len()
            < 2,
        "and deleted"
    );

    let first = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let second_again = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let _ = second;
    let ended = first
        .submit("/account", "/account/logout-everywhere", &[])
        .await;
    assert_eq!(ended.status(), 303);
    assert_eq!(
        second_again.get("/t/acme/").await.status(),
        303,
        "the other browser is signed out too"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.world().await;
    // Even the login form.
    let visitor = Visitor::new(&app);
    let forged = visitor
        .post_without_token(
            "/login",
            &[("email", "admin@acme.fr"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(visitor.get("/t/acme/").await.status(), 303, "not signed in");

    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let forged = admin
        .post_without_token(
            "/t/acme/settings/profile",
            &[
                ("legal_name", "Hacked"),
                ("street", ""),
                ("postal_code", ""),
                ("city", ""),
                ("country", "FR"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert!(forged.text().await.unwrap().contains("Formulaire expiré"));
    let wrong = admin
        .post_without_token(
            "/t/acme/settings/profile",
            &[
                ("legal_name", "Hacked"),
                ("street", ""),
                ("postal_code", ""),
                ("city", ""),
                ("country", "FR"),
                ("csrf_token", "00ff"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 403);
    // A token from another session is no good either.
    let other = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let stolen = csrf_of(&other.get("/t/acme/").await.text().await.unwrap());
    let replayed = admin
        .post_without_token(
            "/t/acme/settings/profile",
            &[
                ("legal_name", "Hacked"),
                ("street", ""),
                ("postal_code", ""),
                ("city", ""),
                ("country", "FR"),
                ("csrf_token", &stolen),
            ],
        )
        .await;
    assert_eq!(replayed.status(), 403);
    let page = admin.get("/t/acme/settings").await.text().await.unwrap();
    assert!(page.contains("ACME SAS") && !page.contains("Hacked"));

    let saved = admin
        .submit(
            "/t/acme/settings",
            "/t/acme/settings/profile",
            &[
                ("legal_name", "ACME Group SAS"),
                ("street", "1 rue de la Paix"),
                ("postal_code", "75002"),
                ("city", "Paris"),
                ("country", "fr"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert!(
        admin
            .get("/t/acme/settings")
            .await
            .text()
            .await
            .unwrap()
            .contains("ACME Group SAS")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn repeated_failures_slow_down_then_lock_the_account() {
    let app = TestApp::spawn().await;
    app.world().await;
    let attacker = Visitor::new(&app);
    for _ in 0..3 {
        assert_eq!(
            attacker
                .login("admin@acme.fr", "wrong password 123")
                .await
                .status(),
            401
        );
    }
    // The fourth failure imposes a delay: even the right password is refused for now.
    assert_eq!(
        attacker
            .login("admin@acme.fr", "wrong password 123")
            .await
            .status(),
        401
    );
    let throttled = attacker.login("admin@acme.fr", PASSWORD).await;
    assert_eq!(throttled.status(), 429);
    assert!(
        throttled
            .text()
            .await
            .unwrap()
            .contains("Trop de tentatives")
    );
    // The wall is per account and address; the account and the address each count their failures too (what
    // another address meets is in security.rs).
    let rows = portal_persistence::entities::login_throttle::Entity::find()
        .all(&app.test_db.db)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .any(|row| row.key == "pair:admin@acme.fr|127.0.0.1" && row.failures == 4)
    );
    assert!(
        rows.iter()
            .any(|row| row.key == "account:admin@acme.fr" && row.failures == 4)
    );
    assert!(rows.iter().any(|row| row.key == "ip:127.0.0.1"));
    app.shutdown().await;
}

#[tokio::test]
async fn an_invitation_works_once_and_creates_a_member() {
    let app = TestApp::spawn().await;
    app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let invited = admin
        .submit(
            "/t/acme/settings/users",
            "/t/acme/settings/users/invite",
            &[
                ("email", "new.person@acme.fr"),
                ("role", "member"),
                ("language", "en"),
            ],
        )
        .await;
    assert_eq!(invited.status(), 303);
    let users_page = admin
        .get("/t/acme/settings/users?notice=invited")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        users_page.contains("new.person@acme.fr"),
        "pending invitation listed"
    );

    let emails = OutboxRepository::new(app.test_db.db.clone())
        .recent(10)
        .await
        .unwrap();
    assert_eq!(emails[0].email.to, vec!["new.person@acme.fr".to_owned()]);
    assert!(
        emails[0].email.subject.contains("ACME SAS"),
        "English email names the company"
    );
    assert!(emails[0].email.text_body.contains("You are invited"));
    let link = last_link(&app, &format!("{}/invitations/", app.address)).await;

    let newcomer = Visitor::new(&app);
    let form = newcomer.get(&link).await;
    assert_eq!(form.status(), 200);
    let too_short = newcomer
        .submit(
            &link,
            &link,
            &[
                ("name", "New Person"),
                ("password", "short"),
                ("password_confirmation", "short"),
            ],
        )
        .await;
    assert_eq!(too_short.status(), 422);
    let accepted = newcomer
        .submit(
            &link,
            &link,
            &[
                ("name", "New Person"),
                ("password", "a brand new password"),
                ("password_confirmation", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    assert_eq!(
        accepted.headers()["location"],
        "/t/acme/",
        "the newcomer lands in the company"
    );
    assert_eq!(
        newcomer.get("/t/acme/").await.status(),
        200,
        "accepting signed the newcomer in"
    );
    assert_eq!(
        newcomer.get(&link).await.status(),
        410,
        "the link works once"
    );

    let member = Visitor::signed_in(&app, "new.person@acme.fr", "a brand new password").await;
    assert_eq!(member.get("/t/acme/").await.status(), 200);
    assert_eq!(
        member.get("/t/acme/settings").await.status(),
        403,
        "a member does not administer"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn an_existing_user_accepting_an_invitation_is_signed_in_to_the_new_company() {
    let app = TestApp::spawn().await;
    app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let invited = admin
        .submit(
            "/t/acme/settings/users",
            "/t/acme/settings/users/invite",
            &[
                ("email", "admin@globex.fr"),
                ("role", "viewer"),
                ("language", "fr"),
            ],
        )
        .await;
    assert_eq!(invited.status(), 303);
    let link = last_link(&app, &format!("{}/invitations/", app.address)).await;
    let browser = Visitor::new(&app);
    assert_eq!(
        browser.get("/t/acme/").await.status(),
        303,
        "not signed in yet"
    );
    let accepted = browser
        .submit(
            &link,
            &link,
            &[
                ("name", ""),
                ("password", ""),
                ("password_confirmation", ""),
            ],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    assert_eq!(accepted.headers()["location"], "/t/acme/");
    assert_eq!(browser.get("/t/acme/").await.status(), 200);
    assert_eq!(
        browser.get("/t/globex/").await.status(),
        200,
        "the same account as before, with its own company"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_password_reset_link_works_once_and_ends_old_sessions() {
    let app = TestApp::spawn().await;
    app.world().await;
    let old_browser = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let visitor = Visitor::new(&app);
    let asked = visitor
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", "member@acme.fr")],
        )
        .await;
    assert_eq!(asked.status(), 200);
    let unknown = visitor
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", "nobody@acme.fr")],
        )
        .await;
    assert_eq!(
        unknown.status(),
        200,
        "the same answer for an unknown address"
    );
    let emails = OutboxRepository::new(app.test_db.db.clone())
        .recent(10)
        .await
        .unwrap();
    assert_eq!(emails.len(), 1, "only the real account got an email");

    let link = last_link(&app, &format!("{}/password/reset/", app.address)).await;
    let mismatch = visitor
        .submit(
            &link,
            &link,
            &[
                ("password", "another long password"),
                ("password_confirmation", "different"),
            ],
        )
        .await;
    assert_eq!(mismatch.status(), 422);
    let done = visitor
        .submit(
            &link,
            &link,
            &[
                ("password", "another long password"),
                ("password_confirmation", "another long password"),
            ],
        )
        .await;
    assert_eq!(done.status(), 200);
    assert_eq!(visitor.get(&link).await.status(), 410, "single use");
    assert_eq!(
        old_browser.get("/t/acme/").await.status(),
        303,
        "old sessions ended"
    );
    assert_eq!(
        Visitor::new(&app)
            .login("member@acme.fr", PASSWORD)
            .await
            .status(),
        401
    );
    Visitor::signed_in(&app, "member@acme.fr", "another long password").await;
    app.shutdown().await;
}

#[tokio::test]
async fn roles_limit_what_each_member_can_do() {
    let app = TestApp::spawn().await;
    app.world().await;
    let viewer = Visitor::signed_in(&app, "viewer@acme.fr", PASSWORD).await;
    assert_eq!(viewer.get("/t/acme/").await.status(), 200);
    let token = csrf_of(&viewer.get("/t/acme/").await.text().await.unwrap());
    let attempt = viewer
        .post_without_token(
            "/t/acme/settings/users/invite",
            &[
                ("email", "x@acme.fr"),
                ("role", "admin"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(attempt.status(), 403, "a viewer changes nothing");
    assert!(
        OutboxRepository::new(app.test_db.db.clone())
            .recent(5)
            .await
            .unwrap()
            .is_empty()
    );

    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    for path in [
        "/t/acme/settings",
        "/t/acme/settings/users",
        "/t/acme/settings/billit",
        "/t/acme/settings/email",
        "/t/acme/settings/audit",
    ] {
        assert_eq!(member.get(path).await.status(), 403, "{path}");
    }
    assert_eq!(
        member.get("/admin").await.status(),
        404,
        "firm administration is invisible"
    );

    // The last admin can neither demote nor deactivate themselves.
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let users = portal_persistence::users::UserRepository::new(app.test_db.db.clone());
    let admin_id = users
        .find_by_email("admin@acme.fr")
        .await
        .unwrap()
        .unwrap()
        .id;
    let demote = admin
        .submit(
            "/t/acme/settings/users",
            &format!("/t/acme/settings/users/{admin_id}"),
            &[("role", "member"), ("active", "true")],
        )
        .await;
    assert_eq!(demote.status(), 409);
    assert!(
        demote
            .text()
            .await
            .unwrap()
            .contains("au moins un administrateur actif")
    );
    let deactivate = admin
        .submit(
            "/t/acme/settings/users",
            &format!("/t/acme/settings/users/{admin_id}"),
            &[("role", "admin"), ("active", "false")],
        )
        .await;
    assert_eq!(deactivate.status(), 409);
    let membership =
        memberships::Entity::find_by_id((app.world_tenant_id("acme").await, admin_id.as_uuid()))
            .one(&app.test_db.db)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        (membership.role.as_str(), membership.active),
        ("admin", true)
    );

    // Promoting the member first lets the old admin step down.
    let member_id = users
        .find_by_email("member@acme.fr")
        .await
        .unwrap()
        .unwrap()
        .id;
    let promoted = admin
        .submit(
            "/t/acme/settings/users",
            &format!("/t/acme/settings/users/{member_id}"),
            &[("role", "admin"), ("active", "true")],
        )
        .await;
    assert_eq!(promoted.status(), 303);
    assert_eq!(
        member.get("/t/acme/settings").await.status(),
        200,
        "now an admin"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn billit_secrets_are_stored_encrypted_and_never_shown() {
    // Billit's sandbox, where the key opens two accounts of acme (42 and 43): a new key is checked there first.
    let sandbox = billit_sandbox::Sandbox::start(billit_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    for party_id in [42, 43] {
        sandbox
            .add_party(billit_sandbox::PartyAccount {
                party_id,
                api_key: "sk-live-0123456789".into(),
                name: "ACME SAS".into(),
                vat_number: "FR44732829320".into(),
                email: None,
            })
            .unwrap();
    }
    let url = sandbox.base_url();
    let app = TestApp::spawn_with(
        move |mut config| {
            config.billit.sandbox_url = url;
            config
        },
        |_state| portal_app::worker::JobRegistry::new(),
    )
    .await;
    let world = app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let saved = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit",
            &[
                ("environment", "sandbox"),
                ("api_key", "sk-live-0123456789"),
                ("party_id", "42"),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let row = billit_connections::Entity::find_by_id(world.acme.id.as_uuid())
        .one(&app.test_db.db)
        .await
        .unwrap()
        .unwrap();
    let stored = row.api_key_encrypted.clone().unwrap();
    assert!(
        !stored.contains("sk-live"),
        "the raw column holds ciphertext"
    );
    assert_eq!(
        portal_app::crypto::decrypt(&app.state.master_key, world.acme.id, &stored).unwrap(),
        "sk-live-0123456789"
    );
    assert_eq!(row.party_id, Some(42));
    let page = admin
        .get("/t/acme/settings/billit")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("sk-live"), "never shown again");
    assert!(page.contains("Une clé est enregistrée"));
    assert!(page.contains(&format!("/hooks/billit/{}", row.webhook_token)));

    // The stored key cannot be pointed at another party, or acted for another company, without typing it again
    // (a key may open several companies): nothing changes.
    let row_now = async || {
        billit_connections::Entity::find_by_id(world.acme.id.as_uuid())
            .one(&app.test_db.db)
            .await
            .unwrap()
            .unwrap()
    };
    for (party, context) in [("43", ""), ("42", "77")] {
        let refused = admin
            .submit(
                "/t/acme/settings/billit",
                "/t/acme/settings/billit",
                &[
                    ("environment", "sandbox"),
                    ("api_key", ""),
                    ("party_id", party),
                    ("context_party_id", context),
                ],
            )
            .await;
        assert_eq!(refused.status(), 422, "party {party}, context {context:?}");
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("saisissez à nouveau la clé d’API")
        );
        let row = row_now().await;
        assert_eq!(row.party_id, Some(42));
        assert_eq!(row.context_party_id, None);
    }
    // Saving again with an empty key and the same party keeps the key.
    let kept = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit",
            &[
                ("environment", "sandbox"),
                ("api_key", ""),
                ("party_id", "42"),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(kept.status(), 303);
    assert_eq!(
        row_now().await.api_key_encrypted.as_deref(),
        Some(stored.as_str())
    );
    // With the key typed again, the party changes.
    let changed = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit",
            &[
                ("environment", "sandbox"),
                ("api_key", "sk-live-0123456789"),
                ("party_id", "43"),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303);
    let row = row_now().await;
    assert_eq!(row.party_id, Some(43));

    let bad = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit",
            &[
                ("environment", "sandbox"),
                ("api_key", ""),
                ("party_id", "-3"),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("PartyID"));
    app.shutdown().await;
    sandbox.shutdown().await;
}

/// A new Billit key is saved only once Billit says that it opens the company acted for and that this company is the
/// tenant's (its VAT number carries the tenant's SIREN); otherwise, or when Billit cannot be asked, nothing is saved
/// and nothing is audited.
#[tokio::test]
async fn new_billit_credentials_are_checked_with_billit_before_they_are_saved() {
    use billit_sandbox::{PartyAccount, Sandbox, SandboxConfig};
    use portal_persistence::entities::audit_log;
    use sea_orm::{ColumnTrait, QueryFilter};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    // Billit's sandbox: acme's own account (42), an accountant's key opening its own company (500), acme (501)
    // and globex (502), and another key's company with acme's VAT number (600).
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    for (party_id, key, vat) in [
        (42, "acme-key", "FR44732829320"),
        (500, "firm-key", "FR99227010068"),
        (501, "firm-key", "FR44732829320"),
        (502, "firm-key", "FR64443061841"),
        (600, "other-key", "FR44732829320"),
    ] {
        sandbox
            .add_party(PartyAccount {
                party_id,
                api_key: key.to_owned(),
                name: format!("Company {party_id}"),
                vat_number: vat.to_owned(),
                email: None,
            })
            .unwrap();
    }
    // "Production" here: a Billit that accepts any key but lists only company 41.
    let production = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/account/accountInformation"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "Companies": [{"PartyID": 41, "Name": "Someone else", "VATNumber": "FR44732829320"}]
        })))
        .mount(&production)
        .await;
    let (sandbox_url, production_url) = (sandbox.base_url(), production.uri());
    let app = TestApp::spawn_with(
        move |mut config| {
            config.billit.sandbox_url = sandbox_url;
            config.billit.production_url = production_url;
            config
        },
        |_state| portal_app::worker::JobRegistry::new(),
    )
    .await;
    let world = app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let settings = "/t/acme/settings/billit";
    let save = async |environment: &str, key: &str, party: &str, context: &str| {
        admin
            .submit(
                settings,
                settings,
                &[
                    ("environment", environment),
                    ("api_key", key),
                    ("party_id", party),
                    ("context_party_id", context),
                ],
            )
            .await
    };
    let stored = async |tenant: portal_domain::ids::TenantId| {
        billit_connections::Entity::find_by_id(tenant.as_uuid())
            .one(&app.test_db.db)
            .await
            .unwrap()
    };
    let audited = async || {
        audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq("billit.settings_changed"))
            .all(&app.test_db.db)
            .await
            .unwrap()
            .len()
    };

    let refusals = [
        // A key Billit refuses.
        (
            ("sandbox", "not-a-key", "42", ""),
            "Billit a refusé cette clé d’API",
        ),
        // A party the key does not open (Billit refuses the pair).
        (
            ("sandbox", "acme-key", "600", ""),
            "Billit a refusé cette clé d’API",
        ),
        // Billit accepts the key but does not list the party among its companies.
        (
            ("production", "any-key", "42", ""),
            "L’entreprise 42 ne fait pas partie des entreprises que cette clé d’API ouvre",
        ),
        // An accountant's key acting for another company (globex's VAT number, another SIREN).
        (
            ("sandbox", "firm-key", "500", "502"),
            "L’entreprise 502 n’est pas la vôtre : son numéro de TVA chez Billit (FR64443061841)",
        ),
        // The accountant's key for its own company.
        (
            ("sandbox", "firm-key", "500", ""),
            "L’entreprise 500 n’est pas la vôtre",
        ),
        // A key without a PartyID cannot be checked.
        (("sandbox", "acme-key", "", ""), "Indiquez le PartyID"),
    ];
    for ((environment, key, party, context), expected) in refusals {
        let refused = save(environment, key, party, context).await;
        assert_eq!(refused.status(), 422, "{environment} {party} {context}");
        let page = refused.text().await.unwrap();
        assert!(page.contains(expected), "{expected}: {page}");
        assert!(page.contains("Rien n’a été enregistré."));
        assert!(!page.contains(key), "the key typed is not shown back");
        assert!(stored(world.acme.id).await.is_none(), "nothing saved");
        assert_eq!(audited().await, 0, "nothing audited");
    }

    // The accountant's key acting for acme (its VAT number carries acme's SIREN): saved.
    let saved = save("sandbox", "firm-key", "500", "501").await;
    assert_eq!(saved.status(), 303);
    let row = stored(world.acme.id).await.unwrap();
    assert_eq!((row.party_id, row.context_party_id), (Some(500), Some(501)));
    assert_eq!(
        portal_app::crypto::decrypt(
            &app.state.master_key,
            world.acme.id,
            row.api_key_encrypted.as_deref().unwrap()
        )
        .unwrap(),
        "firm-key"
    );
    assert_eq!(audited().await, 1);
    // Acme's own key: saved.
    let saved = save("sandbox", "acme-key", "42", "").await;
    assert_eq!(saved.status(), 303);
    let row = stored(world.acme.id).await.unwrap();
    assert_eq!((row.party_id, row.context_party_id), (Some(42), None));
    assert_eq!(audited().await, 2);
    // The same accountant's key acting for globex is saved by globex (its SIREN, no VAT number stored).
    let globex = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    let saved = globex
        .submit(
            "/t/globex/settings/billit",
            "/t/globex/settings/billit",
            &[
                ("environment", "sandbox"),
                ("api_key", "firm-key"),
                ("party_id", "500"),
                ("context_party_id", "502"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let row = stored(world.globex.id).await.unwrap();
    assert_eq!((row.party_id, row.context_party_id), (Some(500), Some(502)));

    // Billit cannot be reached: the page says so, and the stored connection stays as it was.
    sandbox.shutdown().await;
    let unreachable = save("sandbox", "firm-key", "500", "501").await;
    assert_eq!(unreachable.status(), 422);
    let page = unreachable.text().await.unwrap();
    assert!(page.contains("Billit est injoignable"), "{page}");
    assert!(page.contains("Rien n’a été enregistré."));
    let row = stored(world.acme.id).await.unwrap();
    assert_eq!((row.party_id, row.context_party_id), (Some(42), None));
    assert_eq!(
        portal_app::crypto::decrypt(
            &app.state.master_key,
            world.acme.id,
            row.api_key_encrypted.as_deref().unwrap()
        )
        .unwrap(),
        "acme-key"
    );
    assert_eq!(audited().await, 3, "only the three saves were audited");
    // In English too.
    let switched = admin
        .submit(settings, "/account/language", &[("language", "en")])
        .await;
    assert_eq!(switched.status(), 303);
    let unreachable = save("sandbox", "firm-key", "500", "501").await;
    assert_eq!(unreachable.status(), 422);
    let page = unreachable.text().await.unwrap();
    assert!(page.contains("Billit cannot be reached"), "{page}");
    assert!(page.contains("Nothing was saved."));
    app.shutdown().await;
}

/// Every tenant route: a user of another tenant gets 404, for pages and forms alike, and nothing changes.
#[tokio::test]
async fn another_tenants_pages_are_404() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    let outsider = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    let acme_admin_id = portal_persistence::users::UserRepository::new(app.test_db.db.clone())
        .find_by_email("admin@acme.fr")
        .await
        .unwrap()
        .unwrap()
        .id;
    for path in [
        "/t/acme",
        "/t/acme/",
        "/t/acme/settings",
        "/t/acme/settings/users",
        "/t/acme/settings/billit",
        "/t/acme/settings/email",
        "/t/acme/settings/audit",
    ] {
        assert_eq!(outsider.get(path).await.status(), 404, "GET {path}");
    }
    let token = csrf_of(&outsider.get("/t/globex/").await.text().await.unwrap());
    let member_path = format!("/t/acme/settings/users/{acme_admin_id}");
    let posts: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "/t/acme/settings/profile",
            vec![
                ("legal_name", "Pwned"),
                ("street", ""),
                ("postal_code", ""),
                ("city", ""),
                ("country", "FR"),
            ],
        ),
        (
            "/t/acme/settings/users/invite",
            vec![("email", "spy@globex.fr"), ("role", "admin")],
        ),
        (
            member_path.as_str(),
            vec![("role", "viewer"), ("active", "true")],
        ),
        (
            "/t/acme/settings/billit",
            vec![
                ("environment", "production"),
                ("api_key", "x"),
                ("party_id", ""),
                ("context_party_id", ""),
            ],
        ),
        (
            "/t/acme/settings/email",
            vec![
                ("sender_name", "Pwned"),
                ("reply_to", ""),
                ("signature", ""),
            ],
        ),
    ];
    for (path, mut form) in posts {
        form.push(("csrf_token", &token));
        let response = outsider.post_without_token(path, &form).await;
        assert_eq!(response.status(), 404, "POST {path}");
    }
    let acme = portal_persistence::tenants::TenantRepository::new(app.test_db.db.clone())
        .find_by_id(world.acme.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acme.legal_name, "ACME SAS");
    assert_eq!(acme.email.sender_name, None);
    assert!(
        billit_connections::Entity::find_by_id(world.acme.id.as_uuid())
            .one(&app.test_db.db)
            .await
            .unwrap()
            .is_none()
    );
    // A suspended tenant is 404 for its own members too.
    assert_eq!(outsider.get("/t/globex/").await.status(), 200);
    portal_persistence::tenants::TenantRepository::new(app.test_db.db.clone())
        .set_active(world.globex.id, false, None)
        .await
        .unwrap();
    assert_eq!(outsider.get("/t/globex/").await.status(), 404);
    app.shutdown().await;
}

#[tokio::test]
async fn firm_admins_create_tenants_with_checked_identifiers() {
    let app = TestApp::spawn().await;
    app.firm_admin("staff@cabinet.fr").await;
    let staff = Visitor::signed_in(&app, "staff@cabinet.fr", PASSWORD).await;
    assert_eq!(staff.get("/").await.headers()["location"], "/firm");
    let bad = staff
        .submit(
            "/admin/tenants/new",
            "/admin/tenants",
            &[
                ("slug", "Bad Slug"),
                ("legal_name", ""),
                ("siren", "732829321"),
                ("vat_number", ""),
                ("street", ""),
                ("postal_code", ""),
                ("city", ""),
                ("country", "FR"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let page = bad.text().await.unwrap();
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(page.contains("L’identifiant doit faire"), "slug message");
    assert!(
        page.contains("Indiquez la raison sociale"),
        "legal name message"
    );
    assert!(page.contains("732829321"), "what was typed is kept");

    let created = staff
        .submit(
            "/admin/tenants/new",
            "/admin/tenants",
            &[
                ("slug", "initech"),
                ("legal_name", "Initech SA"),
                ("siren", "732 829 320"),
                ("vat_number", ""),
                ("street", ""),
                ("postal_code", ""),
                ("city", "Lyon"),
                ("country", "FR"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let tenants = portal_persistence::tenants::TenantRepository::new(app.test_db.db.clone())
        .list_all()
        .await
        .unwrap();
    let initech = tenants
        .iter()
        .find(|tenant| tenant.slug == "initech")
        .unwrap();
    assert_eq!(initech.siren, "732829320");
    assert_eq!(
        initech.vat_number.as_deref(),
        Some("FR44732829320"),
        "VAT derived from the SIREN"
    );

    let duplicate = staff
        .submit(
            "/admin/tenants/new",
            "/admin/tenants",
            &[
                ("slug", "initech"),
                ("legal_name", "Other"),
                ("siren", "443061841"),
                ("vat_number", ""),
                ("street", ""),
                ("postal_code", ""),
                ("city", ""),
                ("country", "FR"),
            ],
        )
        .await;
    assert_eq!(duplicate.status(), 422);

    // Inviting the first admin queues an email; the audit log shows all of it.
    let invited = staff
        .submit(
            &format!("/admin/tenants/{}", initech.id),
            &format!("/admin/tenants/{}/invite", initech.id),
            &[("email", "boss@initech.fr"), ("language", "fr")],
        )
        .await;
    assert_eq!(invited.status(), 303);
    let audit = staff.get("/admin/audit").await.text().await.unwrap();
    assert!(
        audit.contains("tenant.created")
            && audit.contains("tenant.admin_invited")
            && audit.contains("login.succeeded")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_outbox_worker_writes_emails_as_eml_files() {
    let app = TestApp::spawn().await;
    app.world().await;
    let visitor = Visitor::new(&app);
    visitor
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", "admin@acme.fr")],
        )
        .await;
    let queue = portal_persistence::jobs::JobQueue::new(app.test_db.db.clone());
    let job = queue
        .claim("test", std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .expect("a mail job");
    assert_eq!(job.kind, "mail.send");
    portal_app::mailer::send_job(
        app.state.outbox.clone(),
        app.state.mailer.clone(),
        job.clone(),
    )
    .await
    .unwrap();
    queue.complete(&job).await.unwrap();
    let portal_app::mailer::Mailer::Files(dir) = app.state.mailer.clone() else {
        panic!("without SMTP, emails are files");
    };
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    #[cfg(unix)]
    {
        // Emails carry reset and invitation links: the owner's only, like the folders they are in.
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files[0]), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(dir.parent().unwrap()), 0o700, "the data dir");
    }
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("To: admin@acme.fr"));
    assert!(eml.contains("Message-ID: <"));
    assert!(eml.contains("Date: "));
    assert!(eml.contains("multipart/alternative"));
    let stored = OutboxRepository::new(app.test_db.db.clone())
        .recent(1)
        .await
        .unwrap();
    assert_eq!(
        stored[0].status,
        portal_persistence::outbox::EmailStatus::Sent
    );
    app.shutdown().await;
}

#[tokio::test]
async fn testing_the_billit_connection_and_registering_the_webhook() {
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let billit = MockServer::start().await;
    let uri = billit.uri();
    let app = TestApp::spawn_with(
        move |mut config| {
            config.billit.sandbox_url = uri;
            config
        },
        |_state| portal_app::worker::JobRegistry::new(),
    )
    .await;
    let world = app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;

    let not_yet = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit",
            &[
                ("environment", "sandbox"),
                ("api_key", ""),
                ("party_id", ""),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(not_yet.status(), 303);
    let incomplete = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit/test",
            &[],
        )
        .await;
    let body = incomplete.text().await.unwrap();
    assert!(body.contains("Enregistrez d’abord la clé d’API"), "{body}");

    // Asked once when the key is saved (the check), once when the connection is tested.
    Mock::given(method("GET"))
        .and(path("/v1/account/accountInformation"))
        .and(header("ApiKey", "key-for-acme"))
        .and(header("PartyID", "42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "Email": "compta@acme.fr",
            "Companies": [
                {"PartyID": 41, "Name": "Other Co"},
                {"PartyID": 42, "Name": "ACME SAS (Billit)", "VATNumber": "FR44732829320"}
            ]
        })))
        .expect(2)
        .mount(&billit)
        .await;
    let saved = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit",
            &[
                ("environment", "sandbox"),
                ("api_key", "key-for-acme"),
                ("party_id", "42"),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let tested = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit/test",
            &[],
        )
        .await;
    let page = tested.text().await.unwrap();
    assert!(page.contains("Connexion réussie"), "{page}");
    assert!(page.contains("ACME SAS (Billit)"));

    Mock::given(method("POST"))
        .and(path("/v1/webhooks"))
        .and(body_partial_json(
            serde_json::json!({"EntityType": "Message"}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"WebhookID": 7, "Secret": "whsec_message"})),
        )
        .mount(&billit)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/webhooks"))
        .and(body_partial_json(
            serde_json::json!({"EntityType": "Order"}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"WebhookID": 8, "Secret": "whsec_order"})),
        )
        .mount(&billit)
        .await;
    let registered = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit/webhook",
            &[],
        )
        .await;
    let page = registered.text().await.unwrap();
    assert!(page.contains("Point de réception enregistré"), "{page}");
    assert!(!page.contains("whsec_"), "secrets are shown nowhere");
    let row = billit_connections::Entity::find_by_id(world.acme.id.as_uuid())
        .one(&app.test_db.db)
        .await
        .unwrap()
        .unwrap();
    let stored = row.webhook_secret_encrypted.unwrap();
    assert!(!stored.contains("whsec_"));
    let secrets: Vec<String> = serde_json::from_str(
        &portal_app::crypto::decrypt(&app.state.master_key, world.acme.id, &stored).unwrap(),
    )
    .unwrap();
    assert_eq!(
        secrets,
        vec!["whsec_message".to_owned(), "whsec_order".to_owned()]
    );
    let requests = billit.received_requests().await.unwrap();
    let hook_url = format!("{}/hooks/billit/{}", app.address, row.webhook_token);
    assert!(
        requests
            .iter()
            .filter(|request| request.url.path() == "/v1/webhooks")
            .all(|request| { String::from_utf8_lossy(&request.body).contains(&hook_url) })
    );

    // A refused key is explained, not an error page.
    billit.reset().await;
    Mock::given(method("GET"))
        .and(path("/v1/account/accountInformation"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&billit)
        .await;
    let refused = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit/test",
            &[],
        )
        .await;
    assert_eq!(refused.status(), 200);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("La connexion a échoué")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_interface_switches_to_english_and_remembers_it() {
    let app = TestApp::spawn().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    assert!(
        member
            .get("/t/acme/")
            .await
            .text()
            .await
            .unwrap()
            .contains("Se déconnecter")
    );
    let switched = member
        .submit("/t/acme/", "/account/language", &[("language", "en")])
        .await;
    assert_eq!(switched.status(), 303);
    let page = member.get("/t/acme/").await.text().await.unwrap();
    assert!(
        page.contains("<html lang=\"en\">") && page.contains("Sign out"),
        "{page}"
    );
    // Stored on the user: a new browser gets English after signing in.
    let elsewhere = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    assert!(
        elsewhere
            .get("/t/acme/")
            .await
            .text()
            .await
            .unwrap()
            .contains("Sign out")
    );
    // Before signing in, the browser's language decides.
    let english_visitor = Visitor::new(&app);
    let login = english_visitor
        .client
        .get(format!("{}/login", app.address))
        .header("Accept-Language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("Forgot your password?"));
    app.shutdown().await;
}

#[tokio::test]
async fn the_audit_log_reads_in_paris_time() {
    use chrono::TimeZone;
    use portal_persistence::entities::audit_log;
    let app = TestApp::spawn().await;
    let world = app.world().await;
    // 23:30 UTC on a winter evening is already the next day, 00:30, in Paris.
    audit_log::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        tenant_id: Set(Some(world.acme.id.as_uuid())),
        actor_user_id: Set(None),
        action: Set("test.late_evening".to_owned()),
        target: Set("tenant:acme".to_owned()),
        details: Set("{}".to_owned()),
        at: Set(chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, 23, 30, 5)
            .unwrap()),
        ip: Set(None),
        acting_as: Set(Some("company".to_owned())),
    }
    .insert(&app.test_db.db)
    .await
    .unwrap();
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let html = admin
        .get("/t/acme/settings/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("test.late_evening"), "{html}");
    assert!(html.contains("01/12/2026 00:30:05"), "{html}");
    assert!(!html.contains("23:30") && !html.contains("UTC"), "{html}");

    let switched = admin
        .submit("/t/acme/", "/account/language", &[("language", "en")])
        .await;
    assert_eq!(switched.status(), 303);
    let html = admin
        .get("/t/acme/settings/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("2026-12-01 00:30:05"), "{html}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_sender_name_cannot_pass_for_an_address_nor_run_long() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let long = "A".repeat(61);
    for (name, says) in [
        (
            "support@bank.example",
            "ne peut contenir ni adresse ni les caractères",
        ),
        ("ACME <boss@acme.fr>", "ne peut contenir ni adresse"),
        ("Line\r\nBcc: x", "ne peut contenir ni adresse"),
        (long.as_str(), "ne peut dépasser 60 caractères"),
    ] {
        let refused = admin
            .submit(
                "/t/acme/settings/email",
                "/t/acme/settings/email",
                &[("sender_name", name), ("reply_to", ""), ("signature", "")],
            )
            .await;
        assert_eq!(refused.status(), 422, "{name:?}");
        assert!(refused.text().await.unwrap().contains(says), "{name:?}");
    }
    let tenants = portal_persistence::tenants::TenantRepository::new(app.test_db.db.clone());
    let acme = tenants.find_by_id(world.acme.id).await.unwrap().unwrap();
    assert_eq!(acme.email.sender_name, None, "nothing saved");
    let saved = admin
        .submit(
            "/t/acme/settings/email",
            "/t/acme/settings/email",
            &[
                ("sender_name", "ACME SAS – Comptabilité"),
                ("reply_to", ""),
                ("signature", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let acme = tenants.find_by_id(world.acme.id).await.unwrap().unwrap();
    assert_eq!(
        acme.email.sender_name.as_deref(),
        Some("ACME SAS – Comptabilité")
    );
    app.shutdown().await;
}
