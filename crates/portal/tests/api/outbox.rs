//! The "sent emails" pages of a demonstration: tenant admins read their tenant's emails, firm admins all of them;
//! another tenant's email is a 404, members and viewers get a 403, and outside a demonstration the pages do not
//! exist.

use crate::helpers::{PASSWORD, TestApp, Visitor};
use portal::config::Config;
use portal::secret::Secret;
use portal_app::worker::JobRegistry;
use portal_persistence::outbox::NewEmail;

/// A demonstration: the embedded Billit sandbox (never called here) and no SMTP server.
fn demo(mut config: Config) -> Config {
    config.billit.embedded_url = Some("http://127.0.0.1:9".to_owned());
    config
}

pub(crate) async fn demo_app() -> TestApp {
    TestApp::spawn_with(demo, |_| JobRegistry::new()).await
}

/// Queues an email for `slug` the way the application does, through the tenant's scope.
pub(crate) async fn queue_for(
    app: &TestApp,
    admin_email: &str,
    slug: &str,
    email: NewEmail,
) -> uuid::Uuid {
    let user = app
        .state
        .users
        .find_by_email(admin_email)
        .await
        .unwrap()
        .unwrap();
    let (_, scope) = app
        .state
        .tenants
        .scope_for_member(user.id, slug)
        .await
        .unwrap()
        .unwrap();
    app.state
        .outbox
        .queue_for_tenant(&scope, email)
        .await
        .unwrap()
}

pub(crate) fn email(to: &str, subject: &str, html_body: &str) -> NewEmail {
    NewEmail {
        to: vec![to.to_owned()],
        subject: subject.to_owned(),
        text_body: format!("Bonjour,\n\n{subject}\n"),
        html_body: html_body.to_owned(),
        from: "portal@example.test".to_owned(),
        reply_to: Some("compta@acme.fr".to_owned()),
    }
}

/// The links of a list page to its emails.
fn email_links(html: &str, base: &str) -> Vec<String> {
    html.split(&format!("href=\"{base}/"))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|id| format!("{base}/{id}"))
        .collect()
}

#[tokio::test]
async fn a_tenant_admin_reads_the_tenants_emails_rendered_and_harmless() {
    let app = demo_app().await;
    app.world().await;
    let acme = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;

    // An invitation sent through the settings page lands in the outbox like any email would.
    let invited = acme
        .submit(
            "/t/acme/settings/users",
            "/t/acme/settings/users/invite",
            &[
                ("email", "nouveau@acme.fr"),
                ("role", "member"),
                ("language", "fr"),
            ],
        )
        .await;
    assert_eq!(invited.status(), 303);
    let hostile = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email(
            "client@example.test",
            "Réponse à votre suspension",
            "<p>Pièce jointe</p><script>window.parent.hacked = 1</script><img src=x onerror=alert(1)>",
        ),
    )
    .await;
    queue_for(
        &app,
        "admin@globex.fr",
        "globex",
        email("client@globex.test", "Globex only", "<p>Globex</p>"),
    )
    .await;

    let settings = acme.get("/t/acme/settings").await.text().await.unwrap();
    assert!(
        settings.contains("href=\"/t/acme/settings/outbox\""),
        "the settings offer the sent emails"
    );
    let list = acme.get("/t/acme/settings/outbox").await;
    assert_eq!(list.status(), 200);
    let list = list.text().await.unwrap();
    assert!(list.contains("nouveau@acme.fr"), "{list}");
    assert!(list.contains("client@example.test"));
    assert!(list.contains("Réponse à votre suspension"));
    assert!(list.contains("En attente"), "not sent yet: no worker runs");
    assert!(!list.contains("Globex only"), "another tenant's email");
    assert_eq!(email_links(&list, "/t/acme/settings/outbox").len(), 2);

    let page = acme
        .get(&format!("/t/acme/settings/outbox/{hostile}"))
        .await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Bonjour,"), "the text part");
    assert!(page.contains("compta@acme.fr"), "reply-to");
    // The HTML part only exists inside a sandboxed frame's srcdoc, escaped: no script of the email is in the page.
    let srcdoc = page
        .split("<iframe class=\"outbox-html\" sandbox srcdoc=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the HTML part in a sandboxed frame");
    assert!(srcdoc.contains("window.parent.hacked"), "{srcdoc}");
    assert!(!srcdoc.contains('<') && !srcdoc.contains('>'), "{srcdoc}");
    assert!(!page.contains("<script>window"));
    assert!(!page.contains("<img src=x"));

    let invitation = email_links(&list, "/t/acme/settings/outbox")
        .into_iter()
        .find(|link| !link.ends_with(&hostile.to_string()))
        .unwrap();
    let invitation = acme.get(&invitation).await.text().await.unwrap();
    assert!(invitation.contains("/invitations/"), "the invitation link");
    // Without its token: an admin reading sent emails cannot join as the invited person.
    let stored = portal_persistence::outbox::OutboxRepository::new(app.test_db.db.clone())
        .recent(10)
        .await
        .unwrap();
    let body = &stored
        .iter()
        .find(|email| email.email.text_body.contains("/invitations/"))
        .expect("the invitation email")
        .email
        .text_body;
    let start = body.find("/invitations/").unwrap() + "/invitations/".len();
    let token: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(token.len() > 20, "{body}");
    assert!(!invitation.contains(&token), "the token is not shown");
    assert!(invitation.contains("/invitations/…"));
}

#[tokio::test]
async fn the_firm_admin_reads_every_email() {
    let app = demo_app().await;
    app.world().await;
    app.firm_admin("firm@cabinet.fr").await;
    let acme_email = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email("a@example.test", "Pour ACME", "<p>ACME</p>"),
    )
    .await;
    queue_for(
        &app,
        "admin@globex.fr",
        "globex",
        email("g@example.test", "Pour Globex", "<p>Globex</p>"),
    )
    .await;
    let firm = Visitor::signed_in(&app, "firm@cabinet.fr", PASSWORD).await;
    let admin = firm.get("/admin").await.text().await.unwrap();
    assert!(admin.contains("href=\"/admin/outbox\""));
    let list = firm.get("/admin/outbox").await;
    assert_eq!(list.status(), 200);
    let list = list.text().await.unwrap();
    assert!(list.contains("Pour ACME") && list.contains("Pour Globex"));
    assert!(list.contains("ACME SAS") && list.contains("Globex SARL"));
    let page = firm.get(&format!("/admin/outbox/{acme_email}")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("a@example.test"));
    assert_eq!(firm.get("/admin/outbox/not-a-uuid").await.status(), 404);
    assert_eq!(
        firm.get(&format!("/admin/outbox/{}", uuid::Uuid::now_v7()))
            .await
            .status(),
        404
    );

    // A tenant admin is not a firm admin.
    let acme = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    assert_eq!(acme.get("/admin/outbox").await.status(), 404);
    assert_eq!(
        acme.get(&format!("/admin/outbox/{acme_email}"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn another_tenants_outbox_and_emails_are_not_found() {
    let app = demo_app().await;
    app.world().await;
    let acme_email = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email("a@example.test", "Pour ACME", "<p>ACME</p>"),
    )
    .await;
    let globex = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    assert_eq!(globex.get("/t/acme/settings/outbox").await.status(), 404);
    assert_eq!(
        globex
            .get(&format!("/t/acme/settings/outbox/{acme_email}"))
            .await
            .status(),
        404
    );
    // Through globex's own outbox, acme's email id is unknown too.
    let own = globex
        .get(&format!("/t/globex/settings/outbox/{acme_email}"))
        .await;
    assert_eq!(own.status(), 404);
    assert!(
        !globex
            .get("/t/globex/settings/outbox")
            .await
            .text()
            .await
            .unwrap()
            .contains("Pour ACME")
    );
}

#[tokio::test]
async fn members_and_viewers_are_refused() {
    let app = demo_app().await;
    app.world().await;
    let acme_email = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email("a@example.test", "Pour ACME", "<p>ACME</p>"),
    )
    .await;
    for who in ["member@acme.fr", "viewer@acme.fr"] {
        let visitor = Visitor::signed_in(&app, who, PASSWORD).await;
        assert_eq!(
            visitor.get("/t/acme/settings/outbox").await.status(),
            403,
            "{who}"
        );
        assert_eq!(
            visitor
                .get(&format!("/t/acme/settings/outbox/{acme_email}"))
                .await
                .status(),
            403,
            "{who}"
        );
    }
}

#[tokio::test]
async fn outside_a_demonstration_the_pages_do_not_exist() {
    // No embedded sandbox: a real deployment.
    let app = TestApp::spawn().await;
    app.world().await;
    app.firm_admin("firm@cabinet.fr").await;
    let acme = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    assert_eq!(acme.get("/t/acme/settings/outbox").await.status(), 404);
    let settings = acme.get("/t/acme/settings").await.text().await.unwrap();
    assert!(!settings.contains("/settings/outbox"));
    let firm = Visitor::signed_in(&app, "firm@cabinet.fr", PASSWORD).await;
    assert_eq!(firm.get("/admin/outbox").await.status(), 404);

    // The embedded sandbox with a real SMTP server: emails really leave, so they are not shown either.
    let app = TestApp::spawn_with(
        |config| {
            let mut config = demo(config);
            config.mail.smtp_url = Some(Secret::new("smtp://127.0.0.1:2525".to_owned()));
            config
        },
        |_| JobRegistry::new(),
    )
    .await;
    app.world().await;
    let acme = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    assert_eq!(acme.get("/t/acme/settings/outbox").await.status(), 404);
}

#[tokio::test]
async fn a_failed_email_reads_in_the_readers_language_and_an_old_error_as_it_was() {
    let app = demo_app().await;
    app.world().await;
    let coded = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email("client@example.test", "Relance", "<p>Relance</p>"),
    )
    .await;
    app.state
        .outbox
        .mark_attempt_failed(coded, "mail.refused:550 5.1.1 mailbox unavailable", true)
        .await
        .unwrap();
    let old = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email("client@example.test", "Ancienne", "<p>Ancienne</p>"),
    )
    .await;
    app.state
        .outbox
        .mark_attempt_failed(old, "the SMTP server refused the email: 550", true)
        .await
        .unwrap();

    let acme = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let read = |id: uuid::Uuid| {
        let acme = &acme;
        async move {
            acme.get(&format!("/t/acme/settings/outbox/{id}"))
                .await
                .text()
                .await
                .unwrap()
        }
    };
    let html = read(coded).await;
    assert!(
        html.contains(
            "Le serveur d’envoi a refusé le courriel ou n’a pas pu être joint (550 5.1.1 mailbox unavailable)."
        ),
        "{html}"
    );
    assert!(
        read(old)
            .await
            .contains("the SMTP server refused the email: 550")
    );

    let switched = acme
        .submit("/t/acme/", "/account/language", &[("language", "en")])
        .await;
    assert_eq!(switched.status(), 303);
    let html = read(coded).await;
    assert!(
        html.contains(
            "The mail server refused the email or could not be reached (550 5.1.1 mailbox unavailable)."
        ),
        "{html}"
    );
    assert!(
        read(old)
            .await
            .contains("the SMTP server refused the email: 550")
    );
    app.shutdown().await;
}

/// A worker that dies after the SMTP server accepted an email but before it was marked sent leaves it `sending`;
/// the job's next try (once the dead worker's lease ran out) does not send it again: exactly one message arrives,
/// and the email reads "may have been sent" for a person to decide.
#[tokio::test]
async fn an_email_whose_worker_died_after_smtp_is_not_sent_twice() {
    use portal_persistence::entities::outbox as outbox_rows;
    use portal_persistence::jobs::{JobQueue, ManualClock, RetryPolicy};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use std::sync::Arc;
    use std::time::Duration;

    let smtp = crate::smtp::SmtpServer::start().await;
    let app = demo_app().await;
    app.world().await;
    let id = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email(
            "client@example.test",
            "Une seule fois",
            "<p>Une seule fois</p>",
        ),
    )
    .await;
    let clock = Arc::new(ManualClock::starting_now());
    let queue = JobQueue::with(
        app.test_db.db.clone(),
        RetryPolicy::default(),
        clock.clone(),
    );
    let mailer = portal_app::mailer::Mailer::from_config(
        Some(&smtp.url()),
        app.test_db.scratch_dir().join("unused"),
    )
    .unwrap();

    // The first worker sends the email: the SMTP server accepts it…
    let first = queue
        .claim("dead-worker", Duration::from_secs(30))
        .await
        .unwrap()
        .expect("the sending job");
    assert_eq!(first.kind, "mail.send");
    portal_app::mailer::send_job(app.state.outbox.clone(), mailer.clone(), first.clone())
        .await
        .unwrap();
    assert_eq!(smtp.wait_for_messages(1).await.len(), 1);
    // …and dies before the email is marked sent: the row is left as that try left it, the job never completes.
    let reset = outbox_rows::Entity::update_many()
        .col_expr(outbox_rows::Column::Status, Expr::value("sending"))
        .col_expr(
            outbox_rows::Column::SentAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(outbox_rows::Column::Id.eq(id))
        .filter(outbox_rows::Column::SendingJobId.eq(first.id.as_uuid()))
        .exec(&app.test_db.db)
        .await
        .unwrap();
    assert_eq!(
        reset.rows_affected, 1,
        "the try marked the email with its job"
    );

    // While the dead worker's lease runs, nobody takes the job; once it ran out, the job's next try does.
    assert!(
        queue
            .claim("next-worker", Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );
    clock.advance(Duration::from_secs(31));
    let second = queue
        .claim("next-worker", Duration::from_secs(30))
        .await
        .unwrap()
        .expect("the job taken over");
    assert_eq!((second.id, second.attempt), (first.id, 2));
    portal_app::mailer::send_job(app.state.outbox.clone(), mailer, second.clone())
        .await
        .unwrap();
    queue.complete(&second).await.unwrap();

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1, "exactly one message was received");
    let row = app.state.outbox.get(id).await.unwrap().unwrap();
    assert_eq!(
        row.status,
        portal_persistence::outbox::EmailStatus::Uncertain
    );
    let acme = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let html = acme
        .get(&format!("/t/acme/settings/outbox/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Peut-être envoyé"), "{html}");
    assert!(html.contains("le courriel est peut-être arrivé"), "{html}");
    let list = acme
        .get("/t/acme/settings/outbox")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("Peut-être envoyé"), "{list}");
    app.shutdown().await;
}

/// A `sending` email whose try is another job that still holds its lease is left alone; once that lease ran out
/// (its worker died), the email becomes uncertain and is not handed out for sending again.
#[tokio::test]
async fn a_try_under_way_is_left_alone_until_its_lease_runs_out() {
    use portal_persistence::jobs::{Clock, JobQueue, ManualClock, RetryPolicy};
    use portal_persistence::outbox::{EmailStatus, SendingStart};
    use std::sync::Arc;
    use std::time::Duration;

    let app = demo_app().await;
    app.world().await;
    let id = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email("client@example.test", "En cours", "<p>En cours</p>"),
    )
    .await;
    let clock = Arc::new(ManualClock::starting_now());
    let queue = JobQueue::with(
        app.test_db.db.clone(),
        RetryPolicy::default(),
        clock.clone(),
    );
    let running = queue
        .claim("busy-worker", Duration::from_secs(30))
        .await
        .unwrap()
        .expect("the sending job");
    let user = app
        .state
        .users
        .find_by_email("admin@acme.fr")
        .await
        .unwrap()
        .unwrap();
    let (_, scope) = app
        .state
        .tenants
        .scope_for_member(user.id, "acme")
        .await
        .unwrap()
        .unwrap();
    let outbox = &app.state.outbox;
    let start = outbox
        .begin_sending(Some(&scope), id, running.id.as_uuid(), clock.now_ms())
        .await
        .unwrap();
    assert!(matches!(start, SendingStart::Send(_)), "{start:?}");
    // Another job (a retry asked by hand, say) meets the try under way.
    let other = uuid::Uuid::now_v7();
    let start = outbox
        .begin_sending(Some(&scope), id, other, clock.now_ms())
        .await
        .unwrap();
    assert_eq!(start, SendingStart::InFlight);
    assert_eq!(
        outbox.get(id).await.unwrap().unwrap().status,
        EmailStatus::Sending
    );
    // Another tenant's job never touches it.
    let globex_user = app
        .state
        .users
        .find_by_email("admin@globex.fr")
        .await
        .unwrap()
        .unwrap();
    let (_, globex) = app
        .state
        .tenants
        .scope_for_member(globex_user.id, "globex")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        outbox
            .begin_sending(Some(&globex), id, other, clock.now_ms())
            .await
            .unwrap(),
        SendingStart::NotFound
    );

    clock.advance(Duration::from_secs(31));
    let start = outbox
        .begin_sending(Some(&scope), id, other, clock.now_ms())
        .await
        .unwrap();
    assert_eq!(start, SendingStart::Uncertain);
    let row = outbox.get(id).await.unwrap().unwrap();
    assert_eq!((row.status, row.attempts), (EmailStatus::Uncertain, 1));
    // And it stays so: no try hands it out for sending.
    assert_eq!(
        outbox
            .begin_sending(Some(&scope), id, running.id.as_uuid(), clock.now_ms())
            .await
            .unwrap(),
        SendingStart::Uncertain
    );
    app.shutdown().await;
}

/// Sets an email's status as a dead worker or a failed server would have left it.
async fn set_status(app: &TestApp, id: uuid::Uuid, status: &str) {
    use portal_persistence::entities::outbox as outbox_rows;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let changed = outbox_rows::Entity::update_many()
        .col_expr(outbox_rows::Column::Status, Expr::value(status))
        .filter(outbox_rows::Column::Id.eq(id))
        .exec(&app.test_db.db)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected, 1);
}

async fn status_of(app: &TestApp, id: uuid::Uuid) -> portal_persistence::outbox::EmailStatus {
    app.state.outbox.get(id).await.unwrap().unwrap().status
}

/// The sending jobs queued for an email (its first one and one per "send again").
async fn send_jobs(app: &TestApp, id: uuid::Uuid) -> usize {
    use portal_persistence::entities::jobs;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    jobs::Entity::find()
        .filter(jobs::Column::Kind.eq("mail.send"))
        .filter(jobs::Column::UniqueKey.like(format!("mail:{id}%")))
        .all(&app.test_db.db)
        .await
        .unwrap()
        .len()
}

/// The "email.retried" entries of the audit log, as (tenant slug or none, target).
async fn retried_entries(app: &TestApp) -> Vec<String> {
    portal_persistence::audit::list_all(&app.test_db.db, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.action == "email.retried")
        .map(|entry| format!("{}|{}", entry.actor_email.unwrap_or_default(), entry.target))
        .collect()
}

/// "Send again" on a company's "sent emails" page: a failed or uncertain email of the company is queued again
/// (a new sending job, audited); a sent or queued one is left as it is; another company's email is a 404 through
/// either company's pages, members and viewers are refused, and a post without its CSRF token changes nothing.
#[tokio::test]
async fn a_company_admin_sends_a_failed_or_uncertain_email_again_and_only_their_own() {
    use portal_persistence::outbox::EmailStatus;
    let app = demo_app().await;
    app.world().await;
    let failed = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email("a@example.test", "Échoué", "<p>x</p>"),
    )
    .await;
    app.state
        .outbox
        .mark_attempt_failed(failed, "mail.refused:550 no", true)
        .await
        .unwrap();
    let uncertain = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email("a@example.test", "Incertain", "<p>x</p>"),
    )
    .await;
    set_status(&app, uncertain, "uncertain").await;
    let queued = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email("a@example.test", "En attente", "<p>x</p>"),
    )
    .await;
    let globex_failed = queue_for(
        &app,
        "admin@globex.fr",
        "globex",
        email("g@example.test", "Globex", "<p>x</p>"),
    )
    .await;
    set_status(&app, globex_failed, "failed").await;

    let acme = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let base = "/t/acme/settings/outbox";
    let page = acme
        .get(&format!("{base}/{failed}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("action=\"{base}/{failed}/retry\"")),
        "{page}"
    );
    assert!(page.contains("Renvoyer"));
    let page = acme
        .get(&format!("{base}/{queued}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("/retry\""), "nothing to send again");

    // Forged (no token): refused, nothing changes.
    let forged = acme
        .post_without_token(&format!("{base}/{failed}/retry"), &[])
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(status_of(&app, failed).await, EmailStatus::Failed);
    assert_eq!(send_jobs(&app, failed).await, 1);

    for id in [failed, uncertain] {
        let page = format!("{base}/{id}");
        let sent = acme.submit(&page, &format!("{page}/retry"), &[]).await;
        assert_eq!(sent.status(), 303);
        assert_eq!(
            sent.headers()["location"].to_str().unwrap(),
            format!("{page}?retried=1")
        );
        assert_eq!(status_of(&app, id).await, EmailStatus::Queued);
        assert_eq!(send_jobs(&app, id).await, 2, "a new sending job");
        let after = acme
            .get(&format!("{page}?retried=1"))
            .await
            .text()
            .await
            .unwrap();
        assert!(after.contains("de nouveau en attente"), "{after}");
    }
    // Twice: the email is queued already, the second "send again" changes nothing.
    let again = acme
        .submit(
            &format!("{base}/{queued}"),
            &format!("{base}/{failed}/retry"),
            &[],
        )
        .await;
    assert_eq!(again.status(), 303);
    assert_eq!(
        again.headers()["location"].to_str().unwrap(),
        format!("{base}/{failed}")
    );
    assert_eq!(send_jobs(&app, failed).await, 2);
    let entries = retried_entries(&app).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.contains(&format!("admin@acme.fr|email:{failed}")));
    assert!(entries.contains(&format!("admin@acme.fr|email:{uncertain}")));

    // Another company's email: not found through acme's pages (GET and POST), untouched.
    assert_eq!(
        acme.get(&format!("{base}/{globex_failed}")).await.status(),
        404
    );
    let foreign = acme
        .submit(
            &format!("{base}/{queued}"),
            &format!("{base}/{globex_failed}/retry"),
            &[],
        )
        .await;
    assert_eq!(foreign.status(), 404);
    assert_eq!(status_of(&app, globex_failed).await, EmailStatus::Failed);
    assert_eq!(send_jobs(&app, globex_failed).await, 1);
    // Globex's admin cannot send acme's email again through either company's pages.
    set_status(&app, failed, "failed").await;
    let globex = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    for action in [
        format!("/t/acme/settings/outbox/{failed}/retry"),
        format!("/t/globex/settings/outbox/{failed}/retry"),
    ] {
        let refused = globex
            .submit("/t/globex/settings/outbox", &action, &[])
            .await;
        assert_eq!(refused.status(), 404, "{action}");
    }
    assert_eq!(status_of(&app, failed).await, EmailStatus::Failed);
    // Members and viewers of acme: refused.
    for who in ["member@acme.fr", "viewer@acme.fr"] {
        let visitor = Visitor::signed_in(&app, who, PASSWORD).await;
        let refused = visitor
            .submit("/t/acme/", &format!("{base}/{failed}/retry"), &[])
            .await;
        assert_eq!(refused.status(), 403, "{who}");
    }
    assert_eq!(status_of(&app, failed).await, EmailStatus::Failed);
    assert_eq!(send_jobs(&app, failed).await, 2);
}

/// "Send again" on the firm's page: any company's email and the firm's own (an invitation of a first
/// administrator), audited; a company admin reaches none of it.
#[tokio::test]
async fn the_firm_admin_sends_any_email_again_and_company_admins_cannot_through_the_firm_page() {
    use portal_persistence::outbox::EmailStatus;
    let app = demo_app().await;
    app.world().await;
    app.firm_admin("firm@cabinet.fr").await;
    let globex_email = queue_for(
        &app,
        "admin@globex.fr",
        "globex",
        email("g@example.test", "Globex", "<p>x</p>"),
    )
    .await;
    set_status(&app, globex_email, "uncertain").await;
    let firm_email = app
        .state
        .outbox
        .queue_for_firm(email("new@acme.fr", "Invitation", "<p>x</p>"))
        .await
        .unwrap();
    set_status(&app, firm_email, "failed").await;

    // A company admin: the firm's page and its "send again" do not exist for them.
    let acme = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    for id in [globex_email, firm_email] {
        let refused = acme
            .submit("/t/acme/", &format!("/admin/outbox/{id}/retry"), &[])
            .await;
        assert_eq!(refused.status(), 404);
    }
    // …nor through their company's page for the firm's own email.
    let refused = acme
        .submit(
            "/t/acme/",
            &format!("/t/acme/settings/outbox/{firm_email}/retry"),
            &[],
        )
        .await;
    assert_eq!(refused.status(), 404);
    assert_eq!(status_of(&app, firm_email).await, EmailStatus::Failed);
    assert_eq!(status_of(&app, globex_email).await, EmailStatus::Uncertain);

    let firm = Visitor::signed_in(&app, "firm@cabinet.fr", PASSWORD).await;
    for id in [globex_email, firm_email] {
        let page = format!("/admin/outbox/{id}");
        let html = firm.get(&page).await.text().await.unwrap();
        assert!(html.contains(&format!("action=\"{page}/retry\"")), "{html}");
        let sent = firm.submit(&page, &format!("{page}/retry"), &[]).await;
        assert_eq!(sent.status(), 303);
        assert_eq!(status_of(&app, id).await, EmailStatus::Queued);
        assert_eq!(send_jobs(&app, id).await, 2);
    }
    assert_eq!(
        firm.submit(
            "/admin/outbox",
            &format!("/admin/outbox/{}/retry", uuid::Uuid::now_v7()),
            &[]
        )
        .await
        .status(),
        404
    );
    let entries = retried_entries(&app).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    // The company's email is in the company's audit log, the firm's own in the firm's.
    let records = portal_persistence::audit::list_all(&app.test_db.db, 100)
        .await
        .unwrap();
    let tenant_of = |id: uuid::Uuid| {
        records
            .iter()
            .find(|entry| entry.target == format!("email:{id}"))
            .map(|entry| entry.tenant_id.map(|tenant| tenant.as_uuid()))
    };
    let globex = app.world_tenant_id("globex").await;
    assert_eq!(tenant_of(globex_email), Some(Some(globex)));
    assert_eq!(tenant_of(firm_email), Some(None));
}
