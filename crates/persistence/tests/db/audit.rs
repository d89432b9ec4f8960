//! Every change someone makes is kept with its audit entry, or neither is: a change that is refused writes no
//! entry, and an entry that cannot be written (here, one by an actor who does not exist: the foreign key refuses
//! it) undoes the change.

use crate::fresh;
use chrono::Utc;
use portal_domain::Language;
use portal_domain::identifiers::{ElectronicAddress, Email, Siren};
use portal_domain::ids::{TenantId, UserId};
use portal_domain::invoice::{Address, InvoiceDraft};
use portal_persistence::audit::AuditEntry;
use portal_persistence::billit_connections::{
    BillitConnectionRepository, BillitEnvironment, ConnectionSettings,
};
use portal_persistence::customers::{CustomerError, CustomerInput, CustomerRepository};
use portal_persistence::entities::{audit_log, invitations, invoices as invoices_table, jobs};
use portal_persistence::invitations::{
    InvitationError, InvitationRepository, PasswordResetRepository,
};
use portal_persistence::invoices::{
    InvoiceContent, InvoiceError, InvoiceRepository, NumberingSettings, SubmissionState,
};
use portal_persistence::jobs::NewJob;
use portal_persistence::sessions::{SessionPolicy, SessionRepository};
use portal_persistence::tenants::{
    EmailSettings, MembershipError, Tenant, TenantAddress, TenantProfile, TenantRepository,
};
use portal_persistence::testing::TestDatabase;
use portal_persistence::users::UserRepository;
use portal_persistence::{TenantRole, TenantScope};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

/// An entry the database refuses: its actor is nobody.
fn unwritable(action: &'static str) -> AuditEntry {
    AuditEntry::new(action, "nothing").by(Some(UserId::new()))
}

/// The stored entries of `action`.
async fn entries(db: &DatabaseConnection, action: &str) -> Vec<audit_log::Model> {
    audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(action))
        .all(db)
        .await
        .unwrap()
}

/// The tenant acme, its admin, and the admin's scope.
pub(crate) async fn acme(test: &TestDatabase) -> (Tenant, UserId, TenantScope) {
    let tenants = TenantRepository::new(test.db.clone());
    let tenant = tenants
        .create(
            TenantProfile {
                slug: "acme".into(),
                legal_name: "ACME SAS".into(),
                siren: "732829320".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let admin = UserRepository::new(test.db.clone())
        .create("admin@acme.fr", "Admin", "fr")
        .await
        .unwrap();
    tenants
        .add_member(tenant.id, admin.id, TenantRole::Admin)
        .await
        .unwrap();
    let (_, scope) = tenants
        .scope_for_member(admin.id, "acme")
        .await
        .unwrap()
        .unwrap();
    (tenant, admin.id, scope)
}

fn customer_input(name: &str) -> CustomerInput {
    let siren = Siren::parse("552100554").unwrap();
    CustomerInput {
        legal_name: name.to_owned(),
        siren,
        siret: None,
        vat_number: None,
        electronic_address: ElectronicAddress::parse("0225:552100554").unwrap(),
        contact_emails: vec![Email::parse("compta@example.fr").unwrap()],
        address: Address {
            country_code: "FR".into(),
            ..Default::default()
        },
        language: Language::Fr,
    }
}

#[tokio::test]
async fn customers_change_with_their_entry_or_not_at_all() {
    let test = fresh().await;
    let (_, _, scope) = acme(&test).await;
    let customers = CustomerRepository::new(test.db.clone());

    // Created with its entry, on the tenant, naming the new customer.
    let dupont = customers
        .create(&scope, &customer_input("Dupont"), |customer| {
            Some(AuditEntry::new(
                "customer.created",
                format!("customer:{}", customer.id),
            ))
        })
        .await
        .unwrap();
    let created = entries(&test.db, "customer.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].target, format!("customer:{}", dupont.id));
    assert_eq!(created[0].tenant_id, Some(scope.tenant_id().as_uuid()));

    // An entry that cannot be written: no customer either.
    assert!(
        customers
            .create(&scope, &customer_input("Ghost"), |_| Some(unwritable(
                "customer.created"
            )))
            .await
            .is_err()
    );
    assert_eq!(customers.list(&scope, None, 50).await.unwrap().len(), 1);

    // Same for a change: the customer keeps its name.
    assert!(
        customers
            .update(&scope, dupont.id, &customer_input("Renamed"), |_| {
                unwritable("customer.updated")
            })
            .await
            .is_err()
    );
    let kept = customers.get(&scope, dupont.id).await.unwrap().unwrap();
    assert_eq!(kept.legal_name, "Dupont");
    assert!(entries(&test.db, "customer.updated").await.is_empty());

    // A deletion refused (the customer is invoiced) writes no entry.
    let invoiced = customers
        .create(&scope, &customer_input("Invoiced"), |_| None)
        .await
        .unwrap();
    InvoiceRepository::new(test.db.clone())
        .create_draft(
            &scope,
            &InvoiceContent {
                customer_id: Some(invoiced.id),
                draft: InvoiceDraft::default(),
                totals: Default::default(),
            },
            None,
        )
        .await
        .unwrap();
    assert!(matches!(
        customers
            .delete(
                &scope,
                invoiced.id,
                AuditEntry::new("customer.deleted", "refused")
            )
            .await,
        Err(CustomerError::InUse { invoices: 1 })
    ));
    assert!(entries(&test.db, "customer.deleted").await.is_empty());

    // A deletion whose entry cannot be written keeps the customer; one that can removes it with its entry.
    assert!(
        customers
            .delete(&scope, dupont.id, unwritable("customer.deleted"))
            .await
            .is_err()
    );
    assert!(customers.get(&scope, dupont.id).await.unwrap().is_some());
    customers
        .delete(
            &scope,
            dupont.id,
            AuditEntry::new("customer.deleted", format!("customer:{}", dupont.id)),
        )
        .await
        .unwrap();
    assert!(customers.get(&scope, dupont.id).await.unwrap().is_none());
    assert_eq!(entries(&test.db, "customer.deleted").await.len(), 1);
}

#[tokio::test]
async fn tenant_settings_and_members_change_with_their_entry_or_not_at_all() {
    let test = fresh().await;
    let (tenant, admin, scope) = acme(&test).await;
    let tenants = TenantRepository::new(test.db.clone());
    let address = TenantAddress {
        country: Some("FR".into()),
        ..Default::default()
    };

    // Profile and email settings: unchanged when the entry cannot be written, changed with it otherwise.
    assert!(
        tenants
            .update_own_profile(
                &scope,
                "Renamed".into(),
                address.clone(),
                unwritable("tenant.profile_changed")
            )
            .await
            .is_err()
    );
    let settings = EmailSettings {
        sender_name: Some("ACME".into()),
        ..Default::default()
    };
    assert!(
        tenants
            .update_email_settings(
                &scope,
                settings.clone(),
                unwritable("tenant.email_settings_changed")
            )
            .await
            .is_err()
    );
    let stored = tenants.find_by_id(tenant.id).await.unwrap().unwrap();
    assert_eq!(stored.legal_name, "ACME SAS");
    assert_eq!(stored.email.sender_name, None);
    tenants
        .update_own_profile(
            &scope,
            "ACME Group".into(),
            address,
            AuditEntry::new("tenant.profile_changed", "tenant:acme"),
        )
        .await
        .unwrap();
    let changed = entries(&test.db, "tenant.profile_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].tenant_id, Some(tenant.id.as_uuid()));
    assert_eq!(
        tenants
            .find_by_id(tenant.id)
            .await
            .unwrap()
            .unwrap()
            .legal_name,
        "ACME Group"
    );

    // Members: the last admin cannot step down (no entry), and a change whose entry fails is undone.
    assert!(matches!(
        tenants
            .change_member(
                &scope,
                admin,
                TenantRole::Member,
                true,
                AuditEntry::new("user.role_changed", "refused")
            )
            .await,
        Err(MembershipError::LastAdmin)
    ));
    let bob = UserRepository::new(test.db.clone())
        .create("bob@acme.fr", "Bob", "fr")
        .await
        .unwrap();
    tenants
        .add_member(tenant.id, bob.id, TenantRole::Member)
        .await
        .unwrap();
    assert!(
        tenants
            .change_member(
                &scope,
                bob.id,
                TenantRole::Viewer,
                true,
                unwritable("user.role_changed")
            )
            .await
            .is_err()
    );
    let role_of_bob = |members: Vec<portal_persistence::tenants::Member>| {
        members
            .into_iter()
            .find(|member| member.user.id == bob.id)
            .map(|member| member.role)
    };
    assert_eq!(
        role_of_bob(tenants.members(&scope).await.unwrap()),
        Some(TenantRole::Member)
    );
    assert!(entries(&test.db, "user.role_changed").await.is_empty());
    tenants
        .change_member(
            &scope,
            bob.id,
            TenantRole::Viewer,
            true,
            AuditEntry::new("user.role_changed", format!("user:{}", bob.id)),
        )
        .await
        .unwrap();
    assert_eq!(
        role_of_bob(tenants.members(&scope).await.unwrap()),
        Some(TenantRole::Viewer)
    );
    assert_eq!(entries(&test.db, "user.role_changed").await.len(), 1);

    // The Billit connection and its webhooks.
    let connections = BillitConnectionRepository::new(test.db.clone());
    let connection = || ConnectionSettings {
        environment: BillitEnvironment::Sandbox,
        api_key_encrypted: Some("encrypted".into()),
        party_id: Some(1),
        context_party_id: None,
    };
    assert!(
        connections
            .save(
                &scope,
                connection(),
                Some(unwritable("billit.settings_changed"))
            )
            .await
            .is_err()
    );
    assert!(connections.get(&scope).await.unwrap().is_none());
    connections
        .save(
            &scope,
            connection(),
            Some(AuditEntry::new("billit.settings_changed", "tenant:acme")),
        )
        .await
        .unwrap();
    assert_eq!(entries(&test.db, "billit.settings_changed").await.len(), 1);
    assert!(
        connections
            .set_webhook(
                &scope,
                "secret".into(),
                &["7".to_owned()],
                Some(unwritable("billit.webhook_registered"))
            )
            .await
            .is_err()
    );
    assert!(
        !connections
            .get(&scope)
            .await
            .unwrap()
            .unwrap()
            .webhook_registered
    );
}

#[tokio::test]
async fn firm_changes_are_made_with_their_entry_or_not_at_all() {
    let test = fresh().await;
    let (tenant, _, scope) = acme(&test).await;
    let tenants = TenantRepository::new(test.db.clone());
    let users = UserRepository::new(test.db.clone());
    let profile = |slug: &str| TenantProfile {
        slug: slug.into(),
        legal_name: "Initech SA".into(),
        siren: "443061841".into(),
        ..Default::default()
    };

    // Tenants: created, updated, suspended with their firm-level entry, or not at all.
    assert!(
        tenants
            .create(profile("initech"), Some(unwritable("tenant.created")))
            .await
            .is_err()
    );
    assert!(!tenants.slug_taken("initech", None).await.unwrap());
    let initech = tenants
        .create(
            profile("initech"),
            Some(AuditEntry::new("tenant.created", "tenant:initech")),
        )
        .await
        .unwrap();
    let created = entries(&test.db, "tenant.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].tenant_id, None);
    assert!(
        tenants
            .update_profile(
                initech.id,
                profile("initech-sa"),
                unwritable("tenant.updated")
            )
            .await
            .is_err()
    );
    assert!(
        tenants
            .update_profile(
                TenantId::new(),
                profile("nobody"),
                AuditEntry::new("tenant.updated", "nobody")
            )
            .await
            .unwrap()
            .is_none()
    );
    assert!(entries(&test.db, "tenant.updated").await.is_empty());
    assert!(!tenants.slug_taken("initech-sa", None).await.unwrap());
    assert!(
        tenants
            .set_active(initech.id, false, Some(unwritable("tenant.suspended")))
            .await
            .is_err()
    );
    assert!(
        !tenants
            .set_active(
                TenantId::new(),
                false,
                Some(AuditEntry::new("tenant.suspended", "nobody"))
            )
            .await
            .unwrap()
    );
    assert!(entries(&test.db, "tenant.suspended").await.is_empty());
    assert!(
        tenants
            .find_by_id(initech.id)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    assert!(
        tenants
            .set_active(
                initech.id,
                false,
                Some(AuditEntry::new("tenant.suspended", "tenant:initech"))
            )
            .await
            .unwrap()
    );
    assert_eq!(entries(&test.db, "tenant.suspended").await.len(), 1);

    // Invitations: none is stored when its entry cannot be.
    let invitations_repo = InvitationRepository::new(test.db.clone());
    let now = Utc::now();
    assert!(
        invitations_repo
            .invite_to_tenant(
                &scope,
                "new@acme.fr",
                TenantRole::Member,
                None,
                now,
                unwritable("user.invited")
            )
            .await
            .is_err()
    );
    assert!(
        invitations_repo
            .invite_first_admin(
                tenant.id,
                "boss@acme.fr",
                None,
                now,
                unwritable("tenant.admin_invited")
            )
            .await
            .is_err()
    );
    assert!(
        invitations_repo
            .invite_firm_admin(
                "staff@cabinet.fr",
                None,
                now,
                unwritable("firm_admin.invited")
            )
            .await
            .is_err()
    );
    assert_eq!(
        invitations::Entity::find().count(&test.db).await.unwrap(),
        0
    );
    invitations_repo
        .invite_firm_admin(
            "staff@cabinet.fr",
            None,
            now,
            AuditEntry::new("firm_admin.invited", "email:staff@cabinet.fr"),
        )
        .await
        .unwrap();
    assert_eq!(
        invitations::Entity::find().count(&test.db).await.unwrap(),
        1
    );
    assert_eq!(entries(&test.db, "firm_admin.invited").await.len(), 1);

    // Firm administrators: none is saved without its entry; the last one stays (no entry); a revocation whose
    // entry fails is undone.
    assert!(
        users
            .upsert_firm_admin("first@cabinet.fr", "First", "hash", |_| Some(unwritable(
                "firm_admin.created"
            )))
            .await
            .is_err()
    );
    assert!(
        users
            .find_by_email("first@cabinet.fr")
            .await
            .unwrap()
            .is_none()
    );
    let first = match users
        .upsert_firm_admin("first@cabinet.fr", "First", "hash", |_| {
            Some(AuditEntry::new("firm_admin.created", "first"))
        })
        .await
        .unwrap()
    {
        portal_persistence::users::AdminUpsert::Created(id) => id,
        other => panic!("created, not {other:?}"),
    };
    assert_eq!(entries(&test.db, "firm_admin.created").await.len(), 1);
    assert!(
        !users
            .revoke_firm_admin(first, AuditEntry::new("firm_admin.revoked", "refused"))
            .await
            .unwrap()
    );
    assert!(entries(&test.db, "firm_admin.revoked").await.is_empty());
    users
        .upsert_firm_admin("second@cabinet.fr", "Second", "hash", |_| None)
        .await
        .unwrap();
    assert!(
        users
            .revoke_firm_admin(first, unwritable("firm_admin.revoked"))
            .await
            .is_err()
    );
    let is_admin = |user: Option<portal_persistence::users::User>| user.unwrap().is_firm_admin;
    assert!(is_admin(
        users.find_by_email("first@cabinet.fr").await.unwrap()
    ));
    assert!(
        users
            .revoke_firm_admin(
                first,
                AuditEntry::new("firm_admin.revoked", format!("user:{first}"))
            )
            .await
            .unwrap()
    );
    assert!(!is_admin(
        users.find_by_email("first@cabinet.fr").await.unwrap()
    ));
    assert_eq!(entries(&test.db, "firm_admin.revoked").await.len(), 1);
}

#[tokio::test]
async fn sign_ins_invitations_and_resets_are_kept_with_their_entry_or_not_at_all() {
    let test = fresh().await;
    let (_, admin, scope) = acme(&test).await;
    let now = Utc::now();

    // A session exists only with its sign-in entry; ending them all is undone without its entry.
    let sessions = SessionRepository::new(test.db.clone(), SessionPolicy::default());
    assert!(
        sessions
            .create("hash-1", admin, now, unwritable("login.succeeded"))
            .await
            .is_err()
    );
    assert!(sessions.find_valid("hash-1", now).await.unwrap().is_none());
    sessions
        .create(
            "hash-1",
            admin,
            now,
            AuditEntry::new("login.succeeded", format!("user:{admin}")).by(Some(admin)),
        )
        .await
        .unwrap();
    assert_eq!(entries(&test.db, "login.succeeded").await.len(), 1);
    assert!(
        sessions
            .delete_all_for_user(admin, |_| unwritable("sessions.ended_everywhere"))
            .await
            .is_err()
    );
    assert!(sessions.find_valid("hash-1", now).await.unwrap().is_some());
    let ended = sessions
        .delete_all_for_user(admin, |ended| {
            AuditEntry::new("sessions.ended_everywhere", format!("user:{admin}"))
                .details(serde_json::json!({ "sessions": ended }))
        })
        .await
        .unwrap();
    assert_eq!(ended, 1);
    let recorded = entries(&test.db, "sessions.ended_everywhere").await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].details, r#"{"sessions":1}"#);
    assert!(sessions.find_valid("hash-1", now).await.unwrap().is_none());

    // An invitation is used with its entry: when the entry fails, the link stays open and no account exists.
    let invitations_repo = InvitationRepository::new(test.db.clone());
    let token = invitations_repo
        .invite_to_tenant(
            &scope,
            "carol@acme.fr",
            TenantRole::Member,
            Some(admin),
            now,
            AuditEntry::new("user.invited", "email:carol@acme.fr"),
        )
        .await
        .unwrap();
    let invitation = invitations_repo
        .find_open(&token, now)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        invitations_repo
            .accept(&invitation, "Carol", "fr", "hash", now, |_| unwritable(
                "invitation.accepted"
            ))
            .await,
        Err(InvitationError::Database(_))
    ));
    assert!(
        invitations_repo
            .find_open(&token, now)
            .await
            .unwrap()
            .is_some()
    );
    let users = UserRepository::new(test.db.clone());
    assert!(
        users
            .find_by_email("carol@acme.fr")
            .await
            .unwrap()
            .is_none()
    );
    invitations_repo
        .accept(&invitation, "Carol", "fr", "hash", now, |user| {
            AuditEntry::new("invitation.accepted", format!("user:{user}")).by(Some(user))
        })
        .await
        .unwrap();
    let carol = users.find_by_email("carol@acme.fr").await.unwrap().unwrap();
    let accepted = entries(&test.db, "invitation.accepted").await;
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].target, format!("user:{}", carol.id));
    // Used once: a second use is refused and writes nothing.
    assert!(matches!(
        invitations_repo
            .accept(&invitation, "Carol", "fr", "hash", now, |user| {
                AuditEntry::new("invitation.accepted", format!("user:{user}"))
            })
            .await,
        Err(InvitationError::Invalid)
    ));
    assert_eq!(entries(&test.db, "invitation.accepted").await.len(), 1);

    // Password resets: no link without its entry; a reset whose entry fails leaves the link usable.
    let resets = PasswordResetRepository::new(test.db.clone());
    assert!(
        resets
            .create(carol.id, now, unwritable("password.reset_requested"))
            .await
            .is_err()
    );
    let link = resets
        .create(
            carol.id,
            now,
            AuditEntry::new("password.reset_requested", format!("user:{}", carol.id)),
        )
        .await
        .unwrap();
    assert_eq!(entries(&test.db, "password.reset_requested").await.len(), 1);
    assert!(matches!(
        resets
            .consume(&link, "new-hash", now, |_| unwritable("password.reset"))
            .await,
        Err(InvitationError::Database(_))
    ));
    assert!(resets.is_valid(&link, now).await.unwrap());
    assert_eq!(
        users.password_hash(carol.id).await.unwrap().as_deref(),
        Some("hash")
    );
    resets
        .consume(&link, "new-hash", now, |user| {
            AuditEntry::new("password.reset", format!("user:{user}")).by(Some(user))
        })
        .await
        .unwrap();
    assert_eq!(
        users.password_hash(carol.id).await.unwrap().as_deref(),
        Some("new-hash")
    );
    assert_eq!(entries(&test.db, "password.reset").await.len(), 1);
}

#[tokio::test]
async fn invoices_change_with_their_entry_or_not_at_all() {
    let test = fresh().await;
    let (_, _, scope) = acme(&test).await;
    let invoices = InvoiceRepository::new(test.db.clone());

    // Numbering settings.
    let numbering = NumberingSettings {
        invoice_prefix: "INV-".into(),
        ..Default::default()
    };
    assert!(
        invoices
            .save_numbering(&scope, &numbering, unwritable("invoice.numbering_changed"))
            .await
            .is_err()
    );
    assert_eq!(
        invoices.numbering(&scope).await.unwrap(),
        NumberingSettings::default()
    );
    invoices
        .save_numbering(
            &scope,
            &numbering,
            AuditEntry::new("invoice.numbering_changed", "tenant:acme"),
        )
        .await
        .unwrap();
    assert_eq!(invoices.numbering(&scope).await.unwrap(), numbering);
    assert_eq!(
        entries(&test.db, "invoice.numbering_changed").await.len(),
        1
    );

    // A linked document is created with its entry naming it, or not at all.
    let content = InvoiceContent {
        customer_id: None,
        draft: InvoiceDraft::default(),
        totals: Default::default(),
    };
    let original = invoices.create_draft(&scope, &content, None).await.unwrap();
    assert!(matches!(
        invoices
            .create_linked_draft(&scope, &content, None, Some(original), |_| Some(
                unwritable("invoice.corrected_created")
            ))
            .await,
        Err(InvoiceError::Database(_))
    ));
    assert_eq!(
        invoices_table::Entity::find()
            .count(&test.db)
            .await
            .unwrap(),
        1
    );
    let corrected = invoices
        .create_linked_draft(&scope, &content, None, Some(original), |id| {
            Some(AuditEntry::new(
                "invoice.corrected_created",
                format!("invoice:{id}"),
            ))
        })
        .await
        .unwrap();
    let created = entries(&test.db, "invoice.corrected_created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].target, format!("invoice:{corrected}"));

    // Queued with its job and its entry, or stays a draft with neither.
    let job = |attempts: i32| {
        NewJob::for_tenant(&scope, "test.noop", serde_json::json!({}))
            .unique_key(format!("test:{original}:{attempts}"))
    };
    assert!(
        invoices
            .queue_submission(
                &scope,
                original,
                0,
                job,
                Some(unwritable("invoice.submitted"))
            )
            .await
            .is_err()
    );
    let state = |record: Option<portal_persistence::invoices::InvoiceRecord>| {
        record.map(|record| record.submission)
    };
    assert_eq!(
        state(invoices.get(&scope, original).await.unwrap()),
        Some(SubmissionState::Draft)
    );
    assert_eq!(jobs::Entity::find().count(&test.db).await.unwrap(), 0);
    invoices
        .queue_submission(
            &scope,
            original,
            0,
            job,
            Some(AuditEntry::new(
                "invoice.submitted",
                format!("invoice:{original}"),
            )),
        )
        .await
        .unwrap()
        .expect("queued");
    assert_eq!(
        state(invoices.get(&scope, original).await.unwrap()),
        Some(SubmissionState::Queued)
    );
    assert_eq!(jobs::Entity::find().count(&test.db).await.unwrap(), 1);
    assert_eq!(entries(&test.db, "invoice.submitted").await.len(), 1);
    // Not a draft any more: not queued again, no second entry.
    assert!(
        invoices
            .queue_submission(
                &scope,
                original,
                0,
                job,
                Some(AuditEntry::new("invoice.submitted", "again"))
            )
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(entries(&test.db, "invoice.submitted").await.len(), 1);

    // Deleting: refused for a queued invoice (no entry), undone when the entry fails, else done with it.
    assert!(matches!(
        invoices
            .delete(
                &scope,
                original,
                AuditEntry::new("invoice.deleted", "refused")
            )
            .await,
        Err(InvoiceError::NotEditable)
    ));
    assert!(
        invoices
            .delete(&scope, corrected, unwritable("invoice.deleted"))
            .await
            .is_err()
    );
    assert!(invoices.get(&scope, corrected).await.unwrap().is_some());
    assert!(entries(&test.db, "invoice.deleted").await.is_empty());
    assert!(
        invoices
            .delete(
                &scope,
                corrected,
                AuditEntry::new("invoice.deleted", format!("invoice:{corrected}"))
            )
            .await
            .unwrap()
    );
    assert!(invoices.get(&scope, corrected).await.unwrap().is_none());
    assert_eq!(entries(&test.db, "invoice.deleted").await.len(), 1);
}

/// Many changes of one member at once (an admin's double click, a scanner posting forms): each is applied or
/// waits its turn, none fails with "database is locked" (on SQLite a transaction that reads then writes must take
/// the write lock at its start, or it is refused at once when another one wrote meanwhile).
#[tokio::test]
async fn concurrent_changes_of_a_member_all_go_through() {
    let test = fresh().await;
    let (tenant, _, scope) = acme(&test).await;
    let tenants = TenantRepository::new(test.db.clone());
    let bob = UserRepository::new(test.db.clone())
        .create("bob@acme.fr", "Bob", "fr")
        .await
        .unwrap();
    tenants
        .add_member(tenant.id, bob.id, TenantRole::Member)
        .await
        .unwrap();
    let changes = (0..24).map(|i| {
        let (tenants, scope) = (tenants.clone(), scope.clone());
        let role = if i % 2 == 0 {
            TenantRole::Viewer
        } else {
            TenantRole::Member
        };
        tokio::spawn(async move {
            tenants
                .change_member(
                    &scope,
                    bob.id,
                    role,
                    true,
                    AuditEntry::new("user.role_changed", format!("user:{}", bob.id)),
                )
                .await
        })
    });
    let mut failed: Vec<String> = Vec::new();
    for change in changes.collect::<Vec<_>>() {
        if let Err(error) = change.await.unwrap() {
            failed.push(error.to_string());
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(entries(&test.db, "user.role_changed").await.len(), 24);
}
