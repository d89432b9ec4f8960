use crate::fresh;
use chrono::{TimeZone, Utc};
use portal_domain::Language;
use portal_domain::identifiers::{ElectronicAddress, Email, Siren, Siret};
use portal_domain::ids::CustomerId;
use portal_domain::invoice::{Address, BuyerDraft, InvoiceDraft};
use portal_persistence::audit::AuditEntry;
use portal_persistence::customers::{Customer, CustomerError, CustomerInput, CustomerRepository};
use portal_persistence::invoices::{InvoiceContent, InvoiceRepository, TotalsCents};
use portal_persistence::tenants::{NewTenant, TenantRepository};
use portal_persistence::users::UserRepository;
use portal_persistence::{TenantRole, TenantScope};

/// Two tenants and a member's scope in each.
async fn two_scopes(
    test: &portal_persistence::testing::TestDatabase,
) -> (TenantScope, TenantScope) {
    let tenants = TenantRepository::new(test.db.clone());
    let users = UserRepository::new(test.db.clone());
    let mut scopes = Vec::new();
    for (slug, siren) in [("acme", "732829320"), ("globex", "443061841")] {
        let tenant = tenants
            .create(
                NewTenant {
                    slug: slug.into(),
                    legal_name: slug.to_uppercase(),
                    siren: siren.into(),
                    vat_number: None,
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let user = users
            .create(&format!("member@{slug}.fr"), "Member", "fr")
            .await
            .unwrap();
        tenants
            .add_member(tenant.id, user.id, TenantRole::Member)
            .await
            .unwrap();
        let (_, scope) = tenants
            .scope_for_member(user.id, slug)
            .await
            .unwrap()
            .unwrap();
        scopes.push(scope);
    }
    let globex = scopes.pop().unwrap();
    let acme = scopes.pop().unwrap();
    (acme, globex)
}

/// The entries the web layer gives with each change (the audit tests check them; here they only come along).
fn created_entry(customer: &Customer) -> Option<AuditEntry> {
    Some(AuditEntry::new(
        "customer.created",
        format!("customer:{}", customer.id),
    ))
}

fn updated_entry(customer: &Customer) -> AuditEntry {
    AuditEntry::new("customer.updated", format!("customer:{}", customer.id))
}

fn deleted_entry(id: CustomerId) -> AuditEntry {
    AuditEntry::new("customer.deleted", format!("customer:{id}"))
}

fn input(name: &str, siren: &str) -> CustomerInput {
    let siren = Siren::parse(siren).unwrap();
    CustomerInput {
        legal_name: name.to_owned(),
        siren,
        siret: None,
        vat_number: Some(siren.vat_number()),
        electronic_address: ElectronicAddress::parse(&format!("0225:{siren}")).unwrap(),
        contact_emails: vec![Email::parse("compta@example.fr").unwrap()],
        address: Address {
            street: "1 rue de la Paix".into(),
            additional: String::new(),
            postcode: "75002".into(),
            city: "Paris".into(),
            country_code: "FR".into(),
        },
        language: Language::Fr,
    }
}

#[tokio::test]
async fn a_customer_is_stored_read_back_and_fills_an_invoice_buyer() {
    let test = fresh().await;
    let (acme, _) = two_scopes(&test).await;
    let repo = CustomerRepository::new(test.db.clone());
    let mut new = input("Dupont Industrie", "552100554");
    new.siret = Some(Siret::parse("55210055400005").unwrap());
    new.contact_emails = vec![
        Email::parse("a@dupont.fr").unwrap(),
        Email::parse("b@dupont.fr").unwrap(),
    ];
    new.language = Language::En;
    let created = repo.create(&acme, &new, created_entry).await.unwrap();
    let found = repo.get(&acme, created.id).await.unwrap().unwrap();
    assert_eq!(found, created);
    assert_eq!(found.siren, "552100554");
    assert_eq!(found.siret.as_deref(), Some("55210055400005"));
    assert_eq!(found.vat_number.as_deref(), Some("FR96552100554"));
    assert_eq!(found.electronic_address, "0225:552100554");
    assert_eq!(found.contact_emails, vec!["a@dupont.fr", "b@dupont.fr"]);
    assert_eq!(found.language, Language::En);
    assert_eq!(found.address.city, "Paris");
    assert!(found.network_check.is_none());

    let buyer: BuyerDraft = found.buyer_draft();
    assert_eq!(buyer.legal_name, "Dupont Industrie");
    assert_eq!(buyer.siren, "552100554");
    assert_eq!(buyer.siret, "55210055400005");
    assert_eq!(buyer.vat_number, "FR96552100554");
    assert_eq!(buyer.electronic_address, "0225:552100554");
    assert_eq!(buyer.contact_emails.len(), 2);
    assert_eq!(buyer.address.postcode, "75002");
    assert_eq!(buyer.address.country_code, "FR");
    assert_eq!(buyer.language, Language::En);
}

#[tokio::test]
async fn an_update_replaces_the_content_and_a_new_address_forgets_the_network_check() {
    let test = fresh().await;
    let (acme, _) = two_scopes(&test).await;
    let repo = CustomerRepository::new(test.db.clone());
    let created = repo
        .create(&acme, &input("Dupont", "552100554"), created_entry)
        .await
        .unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap();
    let summary = serde_json::json!({"registered": true, "identifier": "0225:552100554"});
    repo.set_network_check(&acme, created.id, &summary, at)
        .await
        .unwrap();

    // Same electronic address: the check still describes it.
    let mut renamed = input("Dupont et Fils", "552100554");
    renamed.vat_number = None;
    let updated = repo
        .update(&acme, created.id, &renamed, updated_entry)
        .await
        .unwrap();
    assert_eq!(updated.legal_name, "Dupont et Fils");
    assert_eq!(updated.vat_number, None);
    assert_eq!(updated.network_check, Some((at, summary)));
    assert!(updated.updated_at >= created.updated_at);

    let mut moved = renamed.clone();
    moved.electronic_address = ElectronicAddress::parse("0225:552100554_FACT").unwrap();
    let updated = repo
        .update(&acme, created.id, &moved, updated_entry)
        .await
        .unwrap();
    assert_eq!(updated.electronic_address, "0225:552100554_FACT");
    assert!(updated.network_check.is_none());

    assert!(matches!(
        repo.update(&acme, CustomerId::new(), &moved, updated_entry)
            .await,
        Err(CustomerError::NotFound)
    ));
    assert!(matches!(
        repo.set_network_check(&acme, CustomerId::new(), &serde_json::json!({}), at)
            .await,
        Err(CustomerError::NotFound)
    ));
}

#[tokio::test]
async fn search_matches_name_and_identifiers_in_any_case_ordered_by_name_with_a_limit() {
    let test = fresh().await;
    let (acme, globex) = two_scopes(&test).await;
    let repo = CustomerRepository::new(test.db.clone());
    let mut zeta = input("zeta Conseil", "552100554");
    zeta.siret = Some(Siret::parse("55210055400005").unwrap());
    repo.create(&acme, &zeta, created_entry).await.unwrap();
    repo.create(&acme, &input("Alpha Industrie", "542065479"), created_entry)
        .await
        .unwrap();
    repo.create(&acme, &input("Beta Services", "130005481"), created_entry)
        .await
        .unwrap();
    repo.create(
        &globex,
        &input("Alpha de Globex", "123456782"),
        created_entry,
    )
    .await
    .unwrap();

    let names = |list: Vec<portal_persistence::customers::Customer>| {
        list.into_iter()
            .map(|customer| customer.legal_name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(repo.list(&acme, None, 50).await.unwrap()),
        vec!["Alpha Industrie", "Beta Services", "zeta Conseil"]
    );
    assert_eq!(
        names(repo.list(&acme, Some("  "), 2).await.unwrap()),
        vec!["Alpha Industrie", "Beta Services"]
    );
    assert_eq!(
        names(repo.list(&acme, Some("ALPHA"), 50).await.unwrap()),
        vec!["Alpha Industrie"]
    );
    assert_eq!(
        names(repo.list(&acme, Some("industrie"), 50).await.unwrap()),
        vec!["Alpha Industrie"]
    );
    // SIREN, with the spaces people type.
    assert_eq!(
        names(repo.list(&acme, Some("130 005"), 50).await.unwrap()),
        vec!["Beta Services"]
    );
    // SIRET (its establishment number is not in the SIREN).
    assert_eq!(
        names(repo.list(&acme, Some("00005"), 50).await.unwrap()),
        vec!["zeta Conseil"]
    );
    // VAT number, in lower case.
    assert_eq!(
        names(repo.list(&acme, Some("fr82"), 50).await.unwrap()),
        vec!["Alpha Industrie"]
    );
    // Wildcards are taken literally.
    assert!(repo.list(&acme, Some("%"), 50).await.unwrap().len() == 3);
    assert!(
        repo.list(&acme, Some("nothing"), 50)
            .await
            .unwrap()
            .is_empty()
    );
    // Another tenant's customers never show.
    assert!(
        repo.list(&acme, Some("Globex"), 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        names(repo.list(&globex, None, 50).await.unwrap()),
        vec!["Alpha de Globex"]
    );
}

#[tokio::test]
async fn a_customer_with_invoices_cannot_be_deleted() {
    let test = fresh().await;
    let (acme, _) = two_scopes(&test).await;
    let repo = CustomerRepository::new(test.db.clone());
    let kept = repo
        .create(&acme, &input("Invoiced", "552100554"), created_entry)
        .await
        .unwrap();
    let gone = repo
        .create(&acme, &input("Never invoiced", "542065479"), created_entry)
        .await
        .unwrap();
    InvoiceRepository::new(test.db.clone())
        .create_draft(
            &acme,
            &InvoiceContent {
                customer_id: Some(kept.id),
                draft: InvoiceDraft {
                    buyer: kept.buyer_draft(),
                    ..InvoiceDraft::default()
                },
                totals: TotalsCents::default(),
            },
            None,
        )
        .await
        .unwrap();

    assert!(matches!(
        repo.delete(&acme, kept.id, deleted_entry(kept.id)).await,
        Err(CustomerError::InUse { invoices: 1 })
    ));
    assert!(repo.get(&acme, kept.id).await.unwrap().is_some());

    repo.delete(&acme, gone.id, deleted_entry(gone.id))
        .await
        .unwrap();
    assert!(repo.get(&acme, gone.id).await.unwrap().is_none());
    assert!(matches!(
        repo.delete(&acme, gone.id, deleted_entry(gone.id)).await,
        Err(CustomerError::NotFound)
    ));
}

#[tokio::test]
async fn another_tenants_scope_can_neither_read_nor_change_nor_delete() {
    let test = fresh().await;
    let (acme, globex) = two_scopes(&test).await;
    let repo = CustomerRepository::new(test.db.clone());
    let customer = repo
        .create(&acme, &input("Dupont", "552100554"), created_entry)
        .await
        .unwrap();

    assert!(repo.get(&globex, customer.id).await.unwrap().is_none());
    assert!(matches!(
        repo.update(
            &globex,
            customer.id,
            &input("Stolen", "542065479"),
            updated_entry
        )
        .await,
        Err(CustomerError::NotFound)
    ));
    assert!(matches!(
        repo.delete(&globex, customer.id, deleted_entry(customer.id))
            .await,
        Err(CustomerError::NotFound)
    ));
    assert!(matches!(
        repo.set_network_check(&globex, customer.id, &serde_json::json!({}), Utc::now())
            .await,
        Err(CustomerError::NotFound)
    ));
    assert!(repo.list(&globex, None, 50).await.unwrap().is_empty());

    // Untouched for its own tenant.
    let still = repo.get(&acme, customer.id).await.unwrap().unwrap();
    assert_eq!(still, customer);
}

#[tokio::test]
async fn search_ignores_accents_finds_renamed_customers_and_stays_in_the_company() {
    let test = fresh().await;
    let (acme, globex) = two_scopes(&test).await;
    let repo = CustomerRepository::new(test.db.clone());
    let api = portal_persistence::api::ApiRepository::new(test.db.clone());
    let societe = repo
        .create(
            &acme,
            &input("Société Générale", "552100554"),
            created_entry,
        )
        .await
        .unwrap();
    repo.create(
        &acme,
        &input("Boulangerie Cœur", "542065479"),
        created_entry,
    )
    .await
    .unwrap();
    repo.create(
        &globex,
        &input("Société Générale", "130005481"),
        created_entry,
    )
    .await
    .unwrap();
    let names = |list: Vec<Customer>| {
        list.into_iter()
            .map(|customer| customer.legal_name)
            .collect::<Vec<_>>()
    };
    for typed in ["societe", "SOCIÉTÉ", "générale", "552 100", "fr96552"] {
        assert_eq!(
            names(repo.list(&acme, Some(typed), 50).await.unwrap()),
            vec!["Société Générale"],
            "{typed}"
        );
        let page = api
            .customers_page(&acme, Some(typed), None, 50)
            .await
            .unwrap();
        assert_eq!(names(page), vec!["Société Générale"], "API {typed}");
    }
    assert_eq!(
        names(repo.list(&acme, Some("coeur"), 50).await.unwrap()),
        vec!["Boulangerie Cœur"]
    );
    // One or two characters: the start of the name.
    assert_eq!(
        names(repo.list(&acme, Some("bo"), 50).await.unwrap()),
        vec!["Boulangerie Cœur"]
    );
    // Globex's customer of the same name is Globex's only.
    let theirs = repo.list(&globex, Some("societe"), 50).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].siren, "130005481");
    // A renamed customer is found by its new name only.
    repo.update(
        &acme,
        societe.id,
        &input("Crédit Agricole", "552100554"),
        updated_entry,
    )
    .await
    .unwrap();
    assert!(
        repo.list(&acme, Some("societe"), 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        names(repo.list(&acme, Some("credit"), 50).await.unwrap()),
        vec!["Crédit Agricole"]
    );
    repo.delete(&acme, societe.id, deleted_entry(societe.id))
        .await
        .unwrap();
    assert!(
        repo.list(&acme, Some("credit"), 50)
            .await
            .unwrap()
            .is_empty()
    );
}
